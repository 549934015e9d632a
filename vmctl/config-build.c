// SPDX-License-Identifier: MIT
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/macro.h"
#include "vmctl/config-build.h"

static int ferr(char *err, size_t errlen, const char *flag, const char *fmt, ...) _printf_(4, 5);
static int ferr(char *err, size_t errlen, const char *flag, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(err, errlen, "--%s: %s", flag, msg);
        return -EINVAL;
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out) {
        char *end;
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return -ERANGE;
        *out = (uint32_t)v;
        return 0;
}

int vmctl_size_parse_mib(const char *s, uint32_t *mib) {
        char num[24];
        size_t n = 0;
        while (s[n] >= '0' && s[n] <= '9' && n < sizeof num - 1) {
                num[n] = s[n];
                n++;
        }
        num[n] = 0;
        const char *suffix = s + n;
        uint32_t v, mult;
        if (n == 0)
                return -EINVAL;
        if (!*suffix || !strcmp(suffix, "M") || !strcmp(suffix, "MiB"))
                mult = 1;
        else if (!strcmp(suffix, "G") || !strcmp(suffix, "GiB"))
                mult = 1024;
        else if (!strcmp(suffix, "T") || !strcmp(suffix, "TiB"))
                mult = 1024 * 1024;
        else
                return -EINVAL;
        if (parse_u32(num, UINT32_MAX, &v) < 0 || MUL_OVERFLOW(v, mult, mib))
                return -ERANGE;
        return 0;
}

static int set_path(json_object *o, const char *key, const char *value, const struct vmctl_build_ctx *ctx,
                    const char *flag, char *err, size_t errlen) {
        char buf[VM_PATH_MAX];
        if (!*value)
                return ferr(err, errlen, flag, "needs a path");
        int n = value[0] == '/' ? snprintf(buf, sizeof buf, "%s", value)
                                : snprintf(buf, sizeof buf, "%s/%s", ctx->cwd ? ctx->cwd : "", value);
        if (n < 0 || (size_t)n >= sizeof buf || buf[0] != '/')
                return ferr(err, errlen, flag, "path too long or not absolute");
        json_object_object_add(o, key, json_object_new_string(buf));
        return 0;
}

static json_object *child_object(json_object *cfg, const char *key) {
        json_object *o;
        if (json_object_object_get_ex(cfg, key, &o) && json_object_is_type(o, json_type_object))
                return o;
        o = json_object_new_object();
        json_object_object_add(cfg, key, o);
        return o;
}

static json_object *child_array(json_object *cfg, const char *key) {
        json_object *a;
        if (json_object_object_get_ex(cfg, key, &a) && json_object_is_type(a, json_type_array))
                return a;
        a = json_object_new_array();
        json_object_object_add(cfg, key, a);
        return a;
}

static bool is_ide(json_object *d) {
        json_object *b;
        const char *s = json_object_object_get_ex(d, "bus", &b) ? json_object_get_string(b) : NULL;
        return s && !strcmp(s, "ide");
}

/* Whether a DVD drive of cfg sits at IDE position lun (channel*2+position). */
static bool dvd_at(json_object *cfg, uint32_t lun) {
        json_object *a, *c, *p;
        if (!json_object_object_get_ex(cfg, "dvd_drives", &a) || !json_object_is_type(a, json_type_array))
                return false;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *d = json_object_array_get_idx(a, i);
                uint32_t ch = json_object_object_get_ex(d, "channel", &c) ? (uint32_t)json_object_get_int(c) : 1;
                uint32_t pos = json_object_object_get_ex(d, "position", &p) ? (uint32_t)json_object_get_int(p) : 0;
                if (ch * 2 + pos == lun)
                        return true;
        }
        return false;
}

/* The next LUN on `controller` of the bus of `disk` (SCSI, or IDE with its
 * own LUNs and the DVD drives' places) that no disk in the array uses. */
static uint32_t next_free_lun(json_object *cfg, json_object *disks, json_object *disk, uint32_t controller) {
        for (uint32_t lun = 0; lun < VM_SCSI_LUNS_MAX; lun++) {
                bool used = is_ide(disk) && dvd_at(cfg, lun);
                for (size_t i = 0; i < json_object_array_length(disks); i++) {
                        json_object *d = json_object_array_get_idx(disks, i), *c, *l;
                        uint32_t dc = 0, dl = 0;
                        if (json_object_object_get_ex(d, "controller", &c))
                                dc = (uint32_t)json_object_get_int(c);
                        if (json_object_object_get_ex(d, "lun", &l))
                                dl = (uint32_t)json_object_get_int(l);
                        used |= is_ide(d) == is_ide(disk) && dc == controller && dl == lun;
                }
                if (!used)
                        return lun;
        }
        return VM_SCSI_LUNS_MAX; /* vm_config_parse() will name the field */
}

struct qos_opt {
        const char *prefix, *key;
};

/* One of the options in qos[0..n) ("max-iops=N" ...) into the entry's
 * "qos" object as a number (its ranges are vm_config_parse()'s to name).
 * 1 if opt is none of them. */
static int qos_option(json_object *d, const char *opt, const struct qos_opt *qos, size_t n, const char *flag,
                      char *err, size_t errlen) {
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(qos[i].prefix);
                if (strncmp(opt, qos[i].prefix, l))
                        continue;
                char *end;
                errno = 0;
                unsigned long long v = opt[l] >= '0' && opt[l] <= '9' ? strtoull(opt + l, &end, 10) : 0;
                if (opt[l] < '0' || opt[l] > '9' || errno || *end || v > INT64_MAX)
                        return ferr(err, errlen, flag, "%s needs a number, 0 or more (0: none)", qos[i].prefix);
                json_object *q;
                if (!json_object_object_get_ex(d, "qos", &q)) {
                        q = json_object_new_object();
                        json_object_object_add(d, "qos", q);
                }
                json_object_object_add(q, qos[i].key, json_object_new_int64((int64_t)v));
                return 0;
        }
        return 1;
}

/* max-iops=N, min-iops=N, max-bytes-per-s=N: the disk's "qos" (a minimum
 * above the maximum is vm_config_parse()'s to name too). */
static int disk_qos_option(json_object *d, const char *opt, const char *flag, char *err, size_t errlen) {
        static const struct qos_opt qos[] = { { "max-iops=", "max_iops" },
                                              { "min-iops=", "min_iops" },
                                              { "max-bytes-per-s=", "max_bytes_per_s" } };
        return qos_option(d, opt, qos, ARRAY_SIZE(qos), flag, err, errlen);
}

/* max-in-bps=N, max-out-bps=N, min-weight=N: the NIC's bandwidth caps
 * and minimum bandwidth weight ("qos"). */
static int nic_qos_option(json_object *n, const char *opt, char *err, size_t errlen) {
        static const struct qos_opt qos[] = { { "max-in-bps=", "max_in_bps" },
                                              { "max-out-bps=", "max_out_bps" },
                                              { "min-weight=", "min_weight" } };
        return qos_option(n, opt, qos, ARRAY_SIZE(qos), "nic", err, errlen);
}

/* One "key=value" (or bare word) option of --disk; *path set by the first. */
static int disk_option(json_object *d, const char *opt, bool *have_lun, const char *flag, char *err,
                       size_t errlen) {
        uint32_t v;
        if (!strcmp(opt, "ro") || !strcmp(opt, "readonly")) {
                json_object_object_add(d, "read_only", json_object_new_boolean(true));
                return 0;
        }
        if (!strcmp(opt, "bus=scsi") || !strcmp(opt, "bus=ide")) {
                json_object_object_add(d, "bus", json_object_new_string(opt + 4));
                return 0;
        }
        if (!strcmp(opt, "format=raw") || !strcmp(opt, "format=vhdx")) {
                json_object_object_add(d, "format", json_object_new_string(opt + 7));
                return 0;
        }
        static const struct {
                const char *prefix, *key;
                uint32_t max;
        } nums[] = { { "controller=", "controller", VM_SCSI_CONTROLLERS_MAX - 1 },
                     { "lun=", "lun", VM_SCSI_LUNS_MAX - 1 },
                     { "sector-size=", "sector_size", 4096 } };
        for (size_t i = 0; i < ARRAY_SIZE(nums); i++) {
                size_t l = strlen(nums[i].prefix);
                if (strncmp(opt, nums[i].prefix, l))
                        continue;
                if (parse_u32(opt + l, nums[i].max, &v) < 0)
                        return ferr(err, errlen, flag, "%s needs a number up to %u", nums[i].key, nums[i].max);
                json_object_object_add(d, nums[i].key, json_object_new_int64(v));
                if (!strcmp(nums[i].key, "lun"))
                        *have_lun = true;
                return 0;
        }
        int r = disk_qos_option(d, opt, flag, err, errlen);
        if (r <= 0)
                return r;
        return ferr(err, errlen, flag,
                    "unknown option \"%s\" (ro, bus=, controller=, lun=, sector-size=, format=, max-iops=, "
                    "min-iops=, max-bytes-per-s=)",
                    opt);
}

static int add_disk(json_object *cfg, const char *value, const struct vmctl_build_ctx *ctx, char *err,
                    size_t errlen) {
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        json_object *d = json_object_new_object();
        if (!d)
                return -ENOMEM;
        char *save = NULL, *path = strtok_r(copy, ",", &save);
        bool have_lun = false;
        if (ctx->ide_disks) /* a bus= option replaces it */
                json_object_object_add(d, "bus", json_object_new_string("ide"));
        int r = path ? set_path(d, "path", path, ctx, "disk", err, errlen)
                     : ferr(err, errlen, "disk", "needs PATH[,ro][,lun=N]");
        for (char *opt; r == 0 && (opt = strtok_r(NULL, ",", &save));)
                r = disk_option(d, opt, &have_lun, "disk", err, errlen);
        if (r < 0) {
                json_object_put(d);
                return r;
        }
        json_object *disks = child_array(cfg, "disks"), *c;
        if (!have_lun) {
                uint32_t controller = json_object_object_get_ex(d, "controller", &c) ? (uint32_t)json_object_get_int(c) : 0;
                json_object_object_add(d, "lun", json_object_new_int64(next_free_lun(cfg, disks, d, controller)));
        }
        json_object_array_add(disks, d);
        return 0;
}

/* dvd=ISO: the disc of the secondary master drive (Hyper-V's place),
 * which is added when the configuration has none there. */
static int set_dvd(json_object *cfg, const char *value, const struct vmctl_build_ctx *ctx, char *err, size_t errlen) {
        json_object *a = child_array(cfg, "dvd_drives"), *c, *p;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *d = json_object_array_get_idx(a, i);
                uint32_t ch = json_object_object_get_ex(d, "channel", &c) ? (uint32_t)json_object_get_int(c) : 1;
                uint32_t pos = json_object_object_get_ex(d, "position", &p) ? (uint32_t)json_object_get_int(p) : 0;
                if (json_object_is_type(d, json_type_object) && ch == 1 && pos == 0)
                        return set_path(d, "path", value, ctx, "dvd", err, errlen);
        }
        json_object *d = json_object_new_object();
        if (!d)
                return -ENOMEM;
        json_object_object_add(d, "channel", json_object_new_int64(1));
        json_object_object_add(d, "position", json_object_new_int64(0));
        int r = set_path(d, "path", value, ctx, "dvd", err, errlen);
        if (r < 0) {
                json_object_put(d);
                return r;
        }
        json_object_array_add(a, d);
        return 0;
}

/* boot-order=dvd,disk: the devices the firmware tries, each once. */
static int set_boot_order(json_object *cfg, const char *value, char *err, size_t errlen) {
        json_object *order = json_object_new_array();
        _cleanup_free_ char *copy = strdup(value);
        if (!order || !copy) {
                json_object_put(order);
                return -ENOMEM;
        }
        char *save = NULL;
        size_t n = 0;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
                bool seen = false;
                for (size_t i = 0; i < json_object_array_length(order); i++)
                        seen |= !strcmp(json_object_get_string(json_object_array_get_idx(order, i)), t);
                if ((strcmp(t, "dvd") && strcmp(t, "disk")) || seen || n >= VM_BOOT_ORDER_MAX) {
                        json_object_put(order);
                        return ferr(err, errlen, "boot-order", "needs dvd and/or disk, each once (dvd,disk)");
                }
                json_object_array_add(order, json_object_new_string(t));
        }
        if (!n) {
                json_object_put(order);
                return ferr(err, errlen, "boot-order", "needs dvd and/or disk, each once (dvd,disk)");
        }
        json_object *boot = child_object(cfg, "boot");
        json_object_object_add(boot, "kind", json_object_new_string("firmware"));
        json_object_object_add(boot, "order", order);
        return 0;
}

bool vmctl_config_is_firmware(json_object *cfg) {
        json_object *boot, *kind;
        return cfg && json_object_object_get_ex(cfg, "boot", &boot) &&
               json_object_object_get_ex(boot, "kind", &kind) && json_object_is_type(kind, json_type_string) &&
               !strcmp(json_object_get_string(kind), "firmware");
}

bool vmctl_create_boots_firmware(json_object *base, bool kernel_flag, const char *boot_flag) {
        json_object *boot = NULL, *v;
        bool have_boot = base && json_object_object_get_ex(base, "boot", &boot) &&
                         json_object_is_type(boot, json_type_object);
        if (kernel_flag || (have_boot && json_object_object_get_ex(boot, "kernel", &v)))
                return false;
        const char *kind = boot_flag;
        if (!kind && have_boot && json_object_object_get_ex(boot, "kind", &v))
                kind = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
        return !kind || !strcmp(kind, "firmware");
}

void vmctl_config_default_firmware(json_object *cfg) {
        json_object *boot = child_object(cfg, "boot"), *kind;
        if (!json_object_object_get_ex(boot, "kind", &kind))
                json_object_object_add(boot, "kind", json_object_new_string("firmware"));
}

static int nic_option(json_object *n, const char *opt, char *err, size_t errlen) {
        static const char *const strs[] = { "mac", "bridge", "tap" };
        uint32_t v;
        for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
                size_t l = strlen(strs[i]);
                if (!strncmp(opt, strs[i], l) && opt[l] == '=') {
                        json_object_object_add(n, strs[i], json_object_new_string(opt + l + 1));
                        return 0;
                }
        }
        if (!strncmp(opt, "mtu=", 4)) {
                if (parse_u32(opt + 4, 65535, &v) < 0)
                        return ferr(err, errlen, "nic", "mtu needs a number");
                json_object_object_add(n, "mtu", json_object_new_int64(v));
                return 0;
        }
        if (!strncmp(opt, "queues=", 7)) { /* vRSS channels: vmms checks 1..8 with the whole configuration */
                if (parse_u32(opt + 7, 8, &v) < 0 || v == 0)
                        return ferr(err, errlen, "nic", "queues needs a number from 1 to 8");
                json_object_object_add(n, "queues", json_object_new_int64(v));
                return 0;
        }
        if (!strcmp(opt, "link=up") || !strcmp(opt, "link=down")) {
                json_object_object_add(n, "link_up", json_object_new_boolean(opt[5] == 'u'));
                return 0;
        }
        if (!strcmp(opt, "auto"))
                return 0;
        int r = nic_qos_option(n, opt, err, errlen);
        if (r <= 0)
                return r;
        return ferr(err, errlen, "nic",
                    "unknown option \"%s\" (mac=, bridge=, tap=, mtu=, link=, queues=, max-in-bps=, max-out-bps=, "
                    "min-weight=)",
                    opt);
}

static int add_nic(json_object *cfg, const char *value, const struct vmctl_build_ctx *ctx, char *err,
                   size_t errlen) {
        _cleanup_free_ char *copy = strdup(value);
        json_object *n = json_object_new_object();
        if (!copy || !n) {
                json_object_put(n);
                return -ENOMEM;
        }
        char *save = NULL;
        int r = 0;
        for (char *opt = strtok_r(copy, ",", &save); r == 0 && opt; opt = strtok_r(NULL, ",", &save))
                r = nic_option(n, opt, err, errlen);
        if (r < 0) {
                json_object_put(n);
                return r;
        }
        if (!json_object_object_get_ex(n, "mac", NULL)) {
                /* 00:15:5d is the prefix Hyper-V uses for generated addresses. */
                uint8_t mac[6] = { 0x00, 0x15, 0x5d, ctx->mac_random[0], ctx->mac_random[1], ctx->mac_random[2] };
                char s[18];
                vm_mac_format(mac, s);
                json_object_object_add(n, "mac", json_object_new_string(s));
        }
        json_object_array_add(child_array(cfg, "nics"), n);
        return 0;
}

/* --dynamic-memory=on|off|[on,]min=SIZE,max=SIZE,buffer=PCT,weight=N:
 * merged into "dynamic_memory" (a key given sets that key only). */
static int dm_option(json_object *dm, const char *opt, char *err, size_t errlen) {
        static const struct {
                const char *name, *key;
                bool size;
                uint32_t min, max;
        } keys[] = { { "min=", "minimum_mib", true, 0, 0 }, { "max=", "maximum_mib", true, 0, 0 },
                     { "buffer=", "buffer_percent", false, 5, 2000 }, { "weight=", "weight", false, 0, 10000 } };
        if (!strcmp(opt, "on") || !strcmp(opt, "off")) {
                json_object_object_add(dm, "enabled", json_object_new_boolean(opt[1] == 'n'));
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                size_t n = strlen(keys[i].name);
                if (strncmp(opt, keys[i].name, n))
                        continue;
                uint32_t v;
                if (keys[i].size ? vmctl_size_parse_mib(opt + n, &v) < 0
                                 : parse_u32(opt + n, keys[i].max, &v) < 0 || v < keys[i].min)
                        return keys[i].size ? ferr(err, errlen, "dynamic-memory", "%s needs a size such as 512M or 2G",
                                                   keys[i].name)
                                            : ferr(err, errlen, "dynamic-memory", "%s needs a number from %u to %u",
                                                   keys[i].name, keys[i].min, keys[i].max);
                json_object_object_add(dm, keys[i].key, json_object_new_int64(v));
                json_object_object_add(dm, "enabled", json_object_new_boolean(true));
                return 0;
        }
        return ferr(err, errlen, "dynamic-memory", "unknown option \"%s\" (on, off, min=, max=, buffer=, weight=)",
                    opt);
}

static int set_dm(json_object *cfg, const char *value, char *err, size_t errlen) {
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        json_object *dm = child_object(cfg, "dynamic_memory");
        char *save = NULL;
        int r = *copy ? 0 : ferr(err, errlen, "dynamic-memory", "needs on, off or min=/max=/buffer=/weight=");
        for (char *opt = strtok_r(copy, ",", &save); r == 0 && opt; opt = strtok_r(NULL, ",", &save))
                r = dm_option(dm, opt, err, errlen);
        return r;
}

/* --display=on|off|[on,]WIDTHxHEIGHT,vnc=PORT,web=PORT,keymap=LAYOUT: merged
 * into "display" (a key given sets that key only; a port 0 turns it off;
 * keymap=us the US default). */
static int display_option(json_object *d, const char *opt, char *err, size_t errlen) {
        uint32_t w, h, port;
        char x;
        int n = 0;
        if (!strcmp(opt, "on") || !strcmp(opt, "off")) {
                json_object_object_add(d, "enabled", json_object_new_boolean(opt[1] == 'n'));
                return 0;
        }
        if (!strncmp(opt, "vnc=", 4) || !strncmp(opt, "web=", 4)) {
                if (parse_u32(opt + 4, 65535, &port) < 0)
                        return ferr(err, errlen, "display", "%.3s= needs a TCP port (1-65535, 0: none)", opt);
                json_object_object_add(d, opt[0] == 'v' ? "vnc_port" : "web_port", json_object_new_int64(port));
                json_object_object_add(d, "enabled", json_object_new_boolean(true));
                return 0;
        }
        if (!strncmp(opt, "keymap=", 7)) {
                if (!vm_keymap_is_valid(opt + 7))
                        return ferr(err, errlen, "display", "%s: not a keyboard layout (" VM_KEYMAP_HINT ")", opt);
                json_object_object_add(d, "keymap", json_object_new_string(opt + 7));
                return 0;
        }
        if (sscanf(opt, "%u%c%u%n", &w, &x, &h, &n) == 3 && x == 'x' && opt[n] == 0 && opt[0] >= '0' &&
            opt[0] <= '9') {
                if (w < VM_DISPLAY_WIDTH_MIN || w > VM_DISPLAY_WIDTH_MAX || h < VM_DISPLAY_HEIGHT_MIN ||
                    h > VM_DISPLAY_HEIGHT_MAX)
                        return ferr(err, errlen, "display", "%s: the resolution must be within %ux%u and %ux%u", opt,
                                    VM_DISPLAY_WIDTH_MIN, VM_DISPLAY_HEIGHT_MIN, VM_DISPLAY_WIDTH_MAX,
                                    VM_DISPLAY_HEIGHT_MAX);
                json_object_object_add(d, "width", json_object_new_int64(w));
                json_object_object_add(d, "height", json_object_new_int64(h));
                json_object_object_add(d, "enabled", json_object_new_boolean(true));
                return 0;
        }
        return ferr(err, errlen, "display", "unknown option \"%s\" (on, off, WIDTHxHEIGHT, vnc=PORT, web=PORT, "
                    "keymap=LAYOUT)", opt);
}

static int set_display(json_object *cfg, const char *value, char *err, size_t errlen) {
        _cleanup_free_ char *copy = strdup(value);
        if (!copy)
                return -ENOMEM;
        json_object *d = child_object(cfg, "display");
        char *save = NULL;
        int r = *copy ? 0 : ferr(err, errlen, "display", "needs on, off, WIDTHxHEIGHT, vnc=PORT, web=PORT or "
                                              "keymap=LAYOUT");
        for (char *opt = strtok_r(copy, ",", &save); r == 0 && opt; opt = strtok_r(NULL, ",", &save))
                r = display_option(d, opt, err, errlen);
        return r;
}

static int remove_item(json_object *cfg, const char *key, const char *value, const char *flag, char *err,
                       size_t errlen) {
        json_object *a;
        uint32_t idx;
        if (!json_object_object_get_ex(cfg, key, &a) || !json_object_is_type(a, json_type_array))
                return ferr(err, errlen, flag, "the configuration has no %s", key);
        if (parse_u32(value, UINT32_MAX, &idx) < 0 || idx >= json_object_array_length(a))
                return ferr(err, errlen, flag, "needs an index below %zu (see vmctl show)",
                            json_object_array_length(a));
        return json_object_array_del_idx(a, idx, 1) < 0 ? -EINVAL : 0;
}

/* The ranges are the server's (common/config.h), so that vmctl and vmms agree. */
static int set_number(json_object *cfg, const char *key, const char *flag, const char *value, uint32_t min,
                      uint32_t max, char *err, size_t errlen) {
        uint32_t v;
        if (parse_u32(value, max, &v) < 0 || v < min)
                return ferr(err, errlen, flag, "needs a number from %u to %u", min, max);
        json_object_object_add(cfg, key, json_object_new_int64(v));
        return 0;
}

int vmctl_config_set(json_object *cfg, const char *flag, const char *value, const struct vmctl_build_ctx *ctx,
                     char *err, size_t errlen) {
        uint32_t mib;
        if (!cfg || !json_object_is_type(cfg, json_type_object))
                return ferr(err, errlen, flag, "the configuration is not a JSON object");
        if (!strcmp(flag, "force")) { /* vmms refuses memory above the host's otherwise */
                json_object_object_add(cfg, "allow_memory_over_host", json_object_new_boolean(true));
                return 0;
        }
        if (!value)
                return ferr(err, errlen, flag, "needs a value");
        if (!strcmp(flag, "name")) {
                json_object_object_add(cfg, "name", json_object_new_string(value));
                return 0;
        }
        if (!strcmp(flag, "memory")) {
                if (vmctl_size_parse_mib(value, &mib) < 0)
                        return ferr(err, errlen, flag, "needs a size such as 512, 512M or 2G");
                json_object_object_add(cfg, "memory_mib", json_object_new_int64(mib));
                return 0;
        }
        if (!strcmp(flag, "vcpus"))
                return set_number(cfg, "vcpus", flag, value, 1, VM_VCPUS_MAX, err, errlen);
        if (!strcmp(flag, "stop-timeout"))
                return set_number(cfg, "stop_timeout_s", flag, value, 1, 3600, err, errlen);
        if (!strcmp(flag, "cpu-limit"))
                return set_number(child_object(cfg, "processor"), "limit_pct", flag, value, VM_CPU_LIMIT_MIN_PCT,
                                  VM_CPU_LIMIT_NONE, err, errlen);
        if (!strcmp(flag, "cpu-weight"))
                return set_number(child_object(cfg, "processor"), "weight", flag, value, VM_CPU_WEIGHT_MIN,
                                  VM_CPU_WEIGHT_MAX, err, errlen);
        if (!strcmp(flag, "kernel") || !strcmp(flag, "initrd"))
                return set_path(child_object(cfg, "boot"), flag, value, ctx, flag, err, errlen);
        if (!strcmp(flag, "firmware")) {
                json_object *boot = child_object(cfg, "boot");
                json_object_object_add(boot, "kind", json_object_new_string("firmware"));
                return set_path(boot, "firmware", value, ctx, flag, err, errlen);
        }
        if (!strcmp(flag, "boot-order"))
                return set_boot_order(cfg, value, err, errlen);
        if (!strcmp(flag, "dvd"))
                return set_dvd(cfg, value, ctx, err, errlen);
        if (!strcmp(flag, "serial-log"))
                return set_path(cfg, "serial_log", value, ctx, flag, err, errlen);
        if (!strcmp(flag, "cmdline") || !strcmp(flag, "boot")) {
                json_object_object_add(child_object(cfg, "boot"), !strcmp(flag, "boot") ? "kind" : "cmdline",
                                       json_object_new_string(value));
                return 0;
        }
        if (!strcmp(flag, "restart-policy")) {
                json_object_object_add(cfg, "restart_policy", json_object_new_string(value));
                return 0;
        }
        if (!strcmp(flag, "checkpoint-type")) {
                if (vm_checkpoint_type_from_string(value) < 0)
                        return ferr(err, errlen, flag, "must be production, production-only, standard or disabled");
                json_object_object_add(cfg, "checkpoint_type", json_object_new_string(value));
                return 0;
        }
        if (!strcmp(flag, "dynamic-memory"))
                return set_dm(cfg, value, err, errlen);
        if (!strcmp(flag, "display"))
                return set_display(cfg, value, err, errlen);
        if (!strcmp(flag, "disk"))
                return add_disk(cfg, value, ctx, err, errlen);
        if (!strcmp(flag, "nic"))
                return add_nic(cfg, value, ctx, err, errlen);
        if (!strcmp(flag, "remove-disk"))
                return remove_item(cfg, "disks", value, flag, err, errlen);
        if (!strcmp(flag, "remove-nic"))
                return remove_item(cfg, "nics", value, flag, err, errlen);
        return ferr(err, errlen, flag, "unknown option");
}

static int merge_patch_depth(json_object **target, json_object *patch, unsigned depth) {
        if (depth > 32)
                return -ELOOP;
        if (!json_object_is_type(patch, json_type_object)) {
                json_object_put(*target);
                *target = json_object_get(patch);
                return 0;
        }
        if (!*target || !json_object_is_type(*target, json_type_object)) {
                json_object_put(*target);
                *target = json_object_new_object();
                if (!*target)
                        return -ENOMEM;
        }
        json_object_object_foreach(patch, key, value) {
                if (!value) { /* JSON null: remove the member */
                        json_object_object_del(*target, key);
                        continue;
                }
                json_object *cur = NULL;
                if (json_object_object_get_ex(*target, key, &cur))
                        json_object_get(cur);
                int r = merge_patch_depth(&cur, value, depth + 1);
                if (r < 0) {
                        json_object_put(cur);
                        return r;
                }
                json_object_object_add(*target, key, cur);
        }
        return 0;
}

int vmctl_merge_patch(json_object **target, json_object *patch) {
        return merge_patch_depth(target, patch, 0);
}
