// SPDX-License-Identifier: MIT
/* Parsing a VM configuration (vm_config_parse, common/config.h): a pure
 * function of the JSON text. Typed getters that check type and range and
 * name the field in their error, one parser per section, the checks across
 * fields, and the scan for keys given twice. */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/macro.h"
#include "config-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* Parsing context: the field path currently being parsed, for errors. */
struct pctx {
        char *err;
        size_t errlen;
        char path[128];
};

static int perr(struct pctx *p, const char *field, const char *fmt, ...) _printf_(3, 4);
static int perr(struct pctx *p, const char *field, const char *fmt, ...) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (p->err && p->errlen && !p->path[0] && !field[0]) /* the document itself: no field to name */
                snprintf(p->err, p->errlen, "%s", msg);
        else if (p->err && p->errlen)
                snprintf(p->err, p->errlen, "%s%s%s: %s", p->path, p->path[0] && field[0] ? "." : "",
                         field, msg);
        return -EINVAL;
}

/* ---- typed getters: each checks type and range and names the field ---- */

static json_object *get(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* The integer at key into *x: 1 where it is one, 0 where key is absent,
 * -EINVAL (naming key) where it is not an integer. *clamped: json-c
 * clamped a value past int64's range (it sets errno). */
static int get_int(struct pctx *p, json_object *o, const char *key, int64_t *x, bool *clamped) {
        json_object *v = get(o, key);
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return perr(p, key, "must be an integer");
        errno = 0;
        *x = json_object_get_int64(v);
        *clamped = errno != 0;
        return 1;
}

static int get_u32(struct pctx *p, json_object *o, const char *key, uint32_t min, uint32_t max,
                   uint32_t *out) {
        int64_t x = 0;
        bool clamped = false;
        int r = get_int(p, o, key, &x, &clamped);
        if (r <= 0)
                return r;
        if (clamped || x < (int64_t)min || x > (int64_t)max)
                return perr(p, key, "must be between %u and %u", min, max);
        *out = (uint32_t)x;
        return 0;
}

/* A non-negative integer of up to 64 bits (json-c: a positive one past
 * INT64_MAX is uint64). */
static int get_u64(struct pctx *p, json_object *o, const char *key, uint64_t max, uint64_t *out) {
        int64_t x = 0;
        bool clamped = false;
        int r = get_int(p, o, key, &x, &clamped);
        if (r <= 0)
                return r;
        if (x < 0)
                return perr(p, key, "must not be negative");
        if (clamped || (uint64_t)x > max)
                return perr(p, key, "must be at most %llu", (unsigned long long)max);
        *out = (uint64_t)x;
        return 0;
}

static int get_bool(struct pctx *p, json_object *o, const char *key, bool *out) {
        json_object *v = get(o, key);
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_boolean))
                return perr(p, key, "must be true or false");
        *out = json_object_get_boolean(v);
        return 0;
}

static int get_str(struct pctx *p, json_object *o, const char *key, char *buf, size_t size,
                   bool required) {
        json_object *v = get(o, key);
        if (!v)
                return required ? perr(p, key, "is required") : 0;
        if (!json_object_is_type(v, json_type_string))
                return perr(p, key, "must be a string");
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (n >= size)
                return perr(p, key, "is longer than %zu bytes", size - 1);
        if (memchr(s, 0, n))
                return perr(p, key, "contains a NUL byte");
        memcpy(buf, s, n + 1);
        return 0;
}

static int get_path(struct pctx *p, json_object *o, const char *key, char *buf, bool required) {
        int r = get_str(p, o, key, buf, VM_PATH_MAX, required);
        if (r < 0)
                return r;
        if (buf[0] && buf[0] != '/')
                return perr(p, key, "must be an absolute path");
        return 0;
}

static int get_enum(struct pctx *p, json_object *o, const char *key, const char *const *names,
                    size_t n, int *out) {
        char s[32];
        int r = get_str(p, o, key, s, sizeof s, false);
        if (r < 0)
                return r;
        if (!get(o, key))
                return 0;
        for (size_t i = 0; i < n; i++)
                if (strcmp(s, names[i]) == 0) {
                        *out = (int)i;
                        return 0;
                }
        return perr(p, key, "unknown value \"%s\"", s);
}

static int get_guid(struct pctx *p, json_object *o, const char *key, struct guid *out) {
        char s[GUID_STRING_MAX];
        if (!get(o, key))
                return 0;
        int r = get_str(p, o, key, s, sizeof s, false);
        if (r < 0)
                return r;
        if (guid_from_string(s, out) < 0)
                return perr(p, key, "is not a GUID");
        return 0;
}

/* Only the listed keys may appear: a typo must not silently become a default. */
static int check_keys(struct pctx *p, json_object *o, const char *const *allowed) {
        json_object_object_foreach(o, key, val) {
                (void)val;
                bool ok = false;
                for (const char *const *a = allowed; *a; a++)
                        if (strcmp(key, *a) == 0)
                                ok = true;
                if (!ok)
                        return perr(p, key, "unknown field");
        }
        return 0;
}

static int expect_object(struct pctx *p, json_object *v, const char *what) {
        if (!v || !json_object_is_type(v, json_type_object))
                return perr(p, what, "must be an object");
        return 0;
}

static void push_path(struct pctx *p, size_t *saved, const char *fmt, ...) _printf_(3, 4);
static void push_path(struct pctx *p, size_t *saved, const char *fmt, ...) {
        *saved = strlen(p->path);
        va_list ap;
        va_start(ap, fmt);
        if (*saved)
                snprintf(p->path + *saved, sizeof p->path - *saved, ".");
        size_t l = strlen(p->path);
        vsnprintf(p->path + l, sizeof p->path - l, fmt, ap);
        va_end(ap);
}

/* "order": the boot devices the firmware tries, each once. */
static int parse_boot_order(struct pctx *p, json_object *a, struct vm_config *c) {
        if (!a) {
                c->n_boot_order = 2;
                c->boot_order[0] = VM_BOOT_DEVICE_DVD;
                c->boot_order[1] = VM_BOOT_DEVICE_DISK;
                return 0;
        }
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) < 1 ||
            json_object_array_length(a) > VM_BOOT_ORDER_MAX)
                return perr(p, "order", "must be a list of 1 to %u of \"dvd\" and \"disk\"", VM_BOOT_ORDER_MAX);
        c->n_boot_order = 0;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *v = json_object_array_get_idx(a, i);
                const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
                int d = -1;
                for (size_t k = 0; k < ARRAY_SIZE(vm_config_boot_devices); k++)
                        if (!strcmp(s, vm_config_boot_devices[k]))
                                d = (int)k;
                if (d < 0)
                        return perr(p, "order", "entry %zu: must be \"dvd\" or \"disk\"", i);
                for (uint32_t k = 0; k < c->n_boot_order; k++)
                        if (c->boot_order[k] == (enum vm_boot_device)d)
                                return perr(p, "order", "\"%s\" is listed twice", s);
                c->boot_order[c->n_boot_order++] = (enum vm_boot_device)d;
        }
        return 0;
}

static int parse_boot(struct pctx *p, json_object *b, struct vm_config *c) {
        static const char *const keys[] = { "kind", "kernel", "initrd", "cmdline", "firmware", "order", NULL };
        size_t saved;
        int r, kind = (int)c->boot_kind;
        if (!b)
                return perr(p, "boot.kernel", "is required (the guest's kernel: a PVH ELF, or a bzImage with "
                                              "\"kind\":\"linux\"; or \"kind\":\"firmware\" to boot a disk)");
        if ((r = expect_object(p, b, "boot")) < 0)
                return r;
        push_path(p, &saved, "boot");
        if ((r = check_keys(p, b, keys)) < 0 ||
            (r = get_enum(p, b, "kind", vm_config_boot_kinds, ARRAY_SIZE(vm_config_boot_kinds),
                          &kind)) < 0)
                return r;
        c->boot_kind = (enum vm_boot_kind)kind;
        if (c->boot_kind == VM_BOOT_FIRMWARE) {
                /* The guest's own boot loader finds its kernel. */
                static const char *const kernel_only[] = { "kernel", "initrd", "cmdline" };
                for (size_t i = 0; i < ARRAY_SIZE(kernel_only); i++)
                        if (get(b, kernel_only[i]))
                                return perr(p, kernel_only[i], "is only for kinds \"pvh\" and \"linux\" (a "
                                                               "firmware boot runs the guest's own boot loader)");
                snprintf(c->firmware, sizeof c->firmware, "%s", VM_FIRMWARE_DEFAULT);
                if ((r = get_path(p, b, "firmware", c->firmware, false)) < 0 ||
                    (r = parse_boot_order(p, get(b, "order"), c)) < 0)
                        return r;
                p->path[saved] = 0;
                return 0;
        }
        if (get(b, "firmware") || get(b, "order"))
                return perr(p, get(b, "firmware") ? "firmware" : "order", "is only for kind \"firmware\"");
        if ((r = get_path(p, b, "kernel", c->kernel, true)) < 0 ||
            (r = get_path(p, b, "initrd", c->initrd, false)) < 0 ||
            (r = get_str(p, b, "cmdline", c->cmdline, sizeof c->cmdline, false)) < 0)
                return r;
        if (c->boot_kind == VM_BOOT_PVH && c->initrd[0])
                return perr(p, "initrd", "is only supported with kind \"linux\"");
        p->path[saved] = 0;
        return 0;
}

/* One limit of a "qos" object: its key, its largest value, and where it
 * goes in the struct being filled (all QoS limits are uint64_t). */
struct qos_field {
        const char *key;
        uint64_t max;
        size_t offset;
};

#define QOS_FIELDS_MAX 4

/* A "qos" object: only the table's keys, each a number up to its max;
 * then `invalid` (vm_*_qos_invalid) says what the ranges alone do not,
 * naming the field. An absent object leaves *qos as it is. */
static int parse_qos_object(struct pctx *p, json_object *q, const struct qos_field *fields, size_t n,
                            void *qos, const char *(*invalid)(const void *qos, const char **field)) {
        const char *keys[QOS_FIELDS_MAX + 1] = { NULL };
        size_t saved;
        int r;
        if (!q)
                return 0;
        if ((r = expect_object(p, q, "qos")) < 0)
                return r;
        push_path(p, &saved, "qos");
        for (size_t i = 0; i < n && i < QOS_FIELDS_MAX; i++)
                keys[i] = fields[i].key;
        if ((r = check_keys(p, q, keys)) < 0)
                return r;
        for (size_t i = 0; i < n && i < QOS_FIELDS_MAX; i++) {
                uint64_t *value = (uint64_t *)((char *)qos + fields[i].offset);
                if ((r = get_u64(p, q, fields[i].key, fields[i].max, value)) < 0)
                        return r;
        }
        const char *field, *why = invalid(qos, &field);
        if (why)
                return perr(p, field, "%s", why);
        p->path[saved] = 0;
        return 0;
}

static const char *disk_qos_invalid(const void *qos, const char **field) {
        return vm_disk_qos_invalid(qos, field);
}

/* "qos": {"max_iops", "min_iops", "max_bytes_per_s"} (vm_disk_qos). The
 * range checks name the limit; vm_disk_qos_invalid says the rest. */
static int parse_disk_qos(struct pctx *p, json_object *q, struct vm_disk_qos *qos) {
        static const struct qos_field fields[] = {
                { "max_iops", VM_DISK_QOS_MAX_IOPS, offsetof(struct vm_disk_qos, max_iops) },
                { "min_iops", VM_DISK_QOS_MAX_IOPS, offsetof(struct vm_disk_qos, min_iops) },
                { "max_bytes_per_s", VM_DISK_QOS_MAX_BYTES_PER_S, offsetof(struct vm_disk_qos, max_bytes_per_s) },
        };
        _Static_assert(ARRAY_SIZE(fields) <= QOS_FIELDS_MAX, "QOS_FIELDS_MAX is too small");
        return parse_qos_object(p, q, fields, ARRAY_SIZE(fields), qos, disk_qos_invalid);
}

static int parse_disk(struct pctx *p, json_object *d, struct vm_disk_config *disk) {
        static const char *const keys[] = { "path", "read_only", "bus", "controller", "lun",
                                            "sector_size", "format", "qos", NULL };
        int r, bus = VM_DISK_SCSI, format = -1;
        if ((r = expect_object(p, d, "")) < 0)
                return r;
        disk->sector_size = 512;
        if ((r = check_keys(p, d, keys)) < 0 || (r = get_path(p, d, "path", disk->path, true)) < 0 ||
            (r = get_bool(p, d, "read_only", &disk->read_only)) < 0 ||
            (r = get_enum(p, d, "bus", vm_config_disk_buses, ARRAY_SIZE(vm_config_disk_buses),
                          &bus)) < 0 ||
            (r = get_u32(p, d, "controller", 0, VM_SCSI_CONTROLLERS_MAX - 1, &disk->controller)) < 0 ||
            (r = get_u32(p, d, "lun", 0, VM_SCSI_LUNS_MAX - 1, &disk->lun)) < 0 ||
            (r = get_u32(p, d, "sector_size", 512, 4096, &disk->sector_size)) < 0 ||
            (r = get_enum(p, d, "format", vm_config_disk_formats, ARRAY_SIZE(vm_config_disk_formats),
                          &format)) < 0 ||
            (r = parse_disk_qos(p, get(d, "qos"), &disk->qos)) < 0)
                return r;
        disk->bus = (enum vm_disk_bus)bus;
        disk->format = format < 0 ? vm_disk_format_for_path(disk->path) : (enum vm_disk_format)format;
        if (disk->sector_size != 512 && disk->sector_size != 4096)
                return perr(p, "sector_size", "must be 512 or 4096");
        if (disk->bus == VM_DISK_IDE && (disk->controller != 0 || disk->lun > 3))
                return perr(p, "lun", "IDE disks use controller 0 and lun 0..3");
        return 0;
}

static int parse_dvd(struct pctx *p, json_object *d, struct vm_dvd_config *dvd) {
        static const char *const keys[] = { "channel", "position", "path", "read_only", NULL };
        bool read_only = true;
        int r;
        if ((r = expect_object(p, d, "")) < 0)
                return r;
        dvd->channel = 1;
        if ((r = check_keys(p, d, keys)) < 0 || (r = get_u32(p, d, "channel", 0, 1, &dvd->channel)) < 0 ||
            (r = get_u32(p, d, "position", 0, 1, &dvd->position)) < 0 ||
            (r = get_path(p, d, "path", dvd->path, false)) < 0 || (r = get_bool(p, d, "read_only", &read_only)) < 0)
                return r;
        if (!read_only)
                return perr(p, "read_only", "a DVD is read-only");
        return 0;
}

static const char *nic_qos_invalid(const void *qos, const char **field) {
        return vm_nic_qos_invalid(qos, field);
}

/* "qos": {"max_in_bps", "max_out_bps", "min_weight"} (vm_nic_qos). */
static int parse_nic_qos(struct pctx *p, json_object *q, struct vm_nic_qos *qos) {
        static const struct qos_field fields[] = {
                { "max_in_bps", VM_NIC_QOS_MAX_BPS, offsetof(struct vm_nic_qos, max_in_bps) },
                { "max_out_bps", VM_NIC_QOS_MAX_BPS, offsetof(struct vm_nic_qos, max_out_bps) },
                { "min_weight", VM_NIC_QOS_MAX_WEIGHT, offsetof(struct vm_nic_qos, min_weight) },
        };
        _Static_assert(ARRAY_SIZE(fields) <= QOS_FIELDS_MAX, "QOS_FIELDS_MAX is too small");
        return parse_qos_object(p, q, fields, ARRAY_SIZE(fields), qos, nic_qos_invalid);
}

static int parse_nic(struct pctx *p, json_object *n, struct vm_nic_config *nic) {
        static const char *const keys[] = { "mac", "tap", "bridge", "mtu", "link_up", "queues", "instance", "qos",
                                            NULL };
        char mac[32] = "";
        int r;
        if ((r = expect_object(p, n, "")) < 0)
                return r;
        nic->mtu = 1500;
        nic->link_up = true;
        nic->queues = 1;
        if ((r = check_keys(p, n, keys)) < 0 || (r = get_str(p, n, "mac", mac, sizeof mac, true)) < 0 ||
            (r = get_str(p, n, "tap", nic->tap, sizeof nic->tap, false)) < 0 ||
            (r = get_str(p, n, "bridge", nic->bridge, sizeof nic->bridge, false)) < 0 ||
            (r = get_u32(p, n, "mtu", 68, 65521, &nic->mtu)) < 0 ||
            (r = get_bool(p, n, "link_up", &nic->link_up)) < 0 ||
            (r = get_u32(p, n, "queues", 1, 8, &nic->queues)) < 0 ||
            (r = get_guid(p, n, "instance", &nic->instance)) < 0 ||
            (r = parse_nic_qos(p, get(n, "qos"), &nic->qos)) < 0)
                return r;
        if (vm_mac_parse(mac, nic->mac) < 0)
                return perr(p, "mac", "must look like 00:15:5d:00:00:01");
        if (!(nic->mac[0] | nic->mac[1] | nic->mac[2] | nic->mac[3] | nic->mac[4] | nic->mac[5]))
                return perr(p, "mac", "00:00:00:00:00:00 is not a valid address");
        if (nic->mac[0] & 1)
                return perr(p, "mac", "must be a unicast address");
        for (const char *s = nic->tap; *s; s++)
                if (*s == '/' || *s <= ' ' || *s == ':')
                        return perr(p, "tap", "is not a valid interface name");
        for (const char *s = nic->bridge; *s; s++)
                if (*s == '/' || *s <= ' ' || *s == ':')
                        return perr(p, "bridge", "is not a valid interface name");
        return 0;
}

static int parse_array(struct pctx *p, json_object *root, const char *key, uint32_t max, uint32_t *count,
                       void *items, size_t item_size, int (*fn)(struct pctx *, json_object *, void *)) {
        json_object *a = get(root, key);
        if (!a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return perr(p, key, "must be an array");
        size_t n = json_object_array_length(a);
        if (n > max)
                return perr(p, key, "has %zu entries, at most %u allowed", n, max);
        for (size_t i = 0; i < n; i++) {
                size_t saved;
                push_path(p, &saved, "%s[%zu]", key, i);
                int r = fn(p, json_object_array_get_idx(a, i), (char *)items + i * item_size);
                if (r < 0)
                        return r;
                p->path[saved] = 0;
        }
        *count = (uint32_t)n;
        return 0;
}

static int parse_disk_cb(struct pctx *p, json_object *o, void *item) {
        return parse_disk(p, o, item);
}
static int parse_dvd_cb(struct pctx *p, json_object *o, void *item) {
        return parse_dvd(p, o, item);
}
static int parse_nic_cb(struct pctx *p, json_object *o, void *item) {
        return parse_nic(p, o, item);
}

static int parse_ic(struct pctx *p, json_object *o, struct vm_ic_config *ic) {
        static const char *const keys[] = { "shutdown", "heartbeat", "timesync", "kvp", "vss", "fcopy",
                                            "timesync_interval_s", NULL };
        size_t saved;
        int r;
        if (!o)
                return 0;
        if ((r = expect_object(p, o, "integration")) < 0)
                return r;
        push_path(p, &saved, "integration");
        if ((r = check_keys(p, o, keys)) < 0 || (r = get_bool(p, o, "shutdown", &ic->shutdown)) < 0 ||
            (r = get_bool(p, o, "heartbeat", &ic->heartbeat)) < 0 ||
            (r = get_bool(p, o, "timesync", &ic->timesync)) < 0 ||
            (r = get_bool(p, o, "kvp", &ic->kvp)) < 0 || (r = get_bool(p, o, "vss", &ic->vss)) < 0 ||
            (r = get_bool(p, o, "fcopy", &ic->fcopy)) < 0 ||
            (r = get_u32(p, o, "timesync_interval_s", 0, 86400, &ic->timesync_interval_s)) < 0)
                return r;
        p->path[saved] = 0;
        return 0;
}

static int parse_hvsock_service(struct pctx *p, json_object *o, void *item) {
        static const char *const keys[] = { "port", "path", NULL };
        struct vm_hvsock_service *s = item;
        int r;
        if ((r = expect_object(p, o, "")) < 0 || (r = check_keys(p, o, keys)) < 0 ||
            (r = get_u32(p, o, "port", 0, 0x7fffffffu, &s->port)) < 0 ||
            (r = get_path(p, o, "path", s->path, true)) < 0)
                return r;
        if (!get(o, "port"))
                return perr(p, "port", "is required");
        return 0;
}

static int parse_hvsock(struct pctx *p, json_object *o, struct vm_hvsock_config *h) {
        static const char *const keys[] = { "enabled", "max_connections", "services", "socket", NULL };
        size_t saved;
        int r;
        if (!o)
                return 0;
        if ((r = expect_object(p, o, "hvsock")) < 0)
                return r;
        push_path(p, &saved, "hvsock");
        if ((r = check_keys(p, o, keys)) < 0 || (r = get_bool(p, o, "enabled", &h->enabled)) < 0 ||
            (r = get_u32(p, o, "max_connections", 1, 1024, &h->max_connections)) < 0 ||
            (r = parse_array(p, o, "services", VM_HVSOCK_SERVICES_MAX, &h->n_services, h->services,
                             sizeof h->services[0], parse_hvsock_service)) < 0 ||
            (r = get_path(p, o, "socket", h->socket, false)) < 0)
                return r;
        for (uint32_t i = 0; i < h->n_services; i++)
                for (uint32_t j = 0; j < i; j++)
                        if (h->services[i].port == h->services[j].port) {
                                snprintf(p->path + saved, sizeof p->path - saved, "hvsock.services[%u]", i);
                                return perr(p, "port", "duplicates services[%u]", j);
                        }
        p->path[saved] = 0;
        return 0;
}

static int parse_dm(struct pctx *p, json_object *o, struct vm_config *c) {
        static const char *const keys[] = { "enabled", "minimum_mib", "maximum_mib", "buffer_percent", "weight", NULL };
        struct vm_dm_config *d = &c->dm;
        size_t saved;
        int r;
        if (!o)
                return 0;
        if ((r = expect_object(p, o, "dynamic_memory")) < 0)
                return r;
        push_path(p, &saved, "dynamic_memory");
        if ((r = check_keys(p, o, keys)) < 0 || (r = get_bool(p, o, "enabled", &d->enabled)) < 0 ||
            (r = get_u32(p, o, "minimum_mib", VM_MEMORY_MIN_MIB, VM_MEMORY_MAX_MIB, &d->minimum_mib)) < 0 ||
            (r = get_u32(p, o, "maximum_mib", VM_MEMORY_MIN_MIB, VM_MEMORY_MAX_MIB, &d->maximum_mib)) < 0 ||
            (r = get_u32(p, o, "buffer_percent", 5, 2000, &d->buffer_percent)) < 0 ||
            (r = get_u32(p, o, "weight", 0, 10000, &d->weight)) < 0)
                return r;
        p->path[saved] = 0;
        return 0;
}

static int parse_display(struct pctx *p, json_object *o, struct vm_display_config *d) {
        static const char *const keys[] = { "enabled", "width", "height", "vnc_port", "web_port", "keymap", "socket",
                                            NULL };
        size_t saved;
        int r;
        if (!o)
                return 0;
        if ((r = expect_object(p, o, "display")) < 0)
                return r;
        push_path(p, &saved, "display");
        if ((r = check_keys(p, o, keys)) < 0 || (r = get_bool(p, o, "enabled", &d->enabled)) < 0 ||
            (r = get_u32(p, o, "width", VM_DISPLAY_WIDTH_MIN, VM_DISPLAY_WIDTH_MAX, &d->width)) < 0 ||
            (r = get_u32(p, o, "height", VM_DISPLAY_HEIGHT_MIN, VM_DISPLAY_HEIGHT_MAX, &d->height)) < 0 ||
            (r = get_u32(p, o, "vnc_port", 0, 65535, &d->vnc_port)) < 0 ||
            (r = get_u32(p, o, "web_port", 0, 65535, &d->web_port)) < 0 ||
            (r = get_str(p, o, "keymap", d->keymap, sizeof d->keymap, false)) < 0 ||
            (r = get_path(p, o, "socket", d->socket, false)) < 0)
                return r;
        if (d->keymap[0] && !vm_keymap_is_valid(d->keymap))
                return perr(p, "keymap", "\"%s\" is not a keyboard layout name (" VM_KEYMAP_HINT ")", d->keymap);
        if (d->vnc_port && d->vnc_port == d->web_port)
                return perr(p, "web_port", "is the same as vnc_port (%u)", d->vnc_port);
        p->path[saved] = 0;
        return 0;
}

/* The order of the three sizes (0: the startup memory, memory_mib). */
static int check_dm(struct pctx *p, struct vm_config *c) {
        if (vm_dm_minimum_mib(c) > c->memory_mib)
                return perr(p, "dynamic_memory.minimum_mib", "%u is above the startup memory (memory_mib %u)",
                            c->dm.minimum_mib, c->memory_mib);
        if (vm_dm_maximum_mib(c) < c->memory_mib)
                return perr(p, "dynamic_memory.maximum_mib", "%u is below the startup memory (memory_mib %u)",
                            c->dm.maximum_mib, c->memory_mib);
        return 0;
}

static int check_cross_fields(struct pctx *p, struct vm_config *c) {
        for (uint32_t i = 0; i < c->n_disks; i++)
                for (uint32_t j = 0; j < i; j++)
                        if (!strcmp(c->disks[i].path, c->disks[j].path)) {
                                snprintf(p->path, sizeof p->path, "disks[%u]", i);
                                return perr(p, "path", "%s is disks[%u] already; a disk image can be attached "
                                            "once", c->disks[i].path, j);
                        } else if (c->disks[i].bus == c->disks[j].bus &&
                            c->disks[i].controller == c->disks[j].controller &&
                            c->disks[i].lun == c->disks[j].lun) {
                                snprintf(p->path, sizeof p->path, "disks[%u]", i);
                                return perr(p, "lun", "duplicates disks[%u]", j);
                        }
        for (uint32_t i = 0; i < c->n_dvds; i++) {
                const struct vm_dvd_config *v = &c->dvds[i];
                snprintf(p->path, sizeof p->path, "dvd_drives[%u]", i);
                for (uint32_t j = 0; j < i; j++)
                        if (v->channel == c->dvds[j].channel && v->position == c->dvds[j].position)
                                return perr(p, "position", "duplicates dvd_drives[%u]", j);
                for (uint32_t j = 0; j < c->n_disks; j++)
                        if (c->disks[j].bus == VM_DISK_IDE && c->disks[j].lun == v->channel * 2 + v->position)
                                return perr(p, "position", "is IDE disks[%u]'s (lun %u)", j, c->disks[j].lun);
                        else if (v->path[0] && !strcmp(v->path, c->disks[j].path))
                                return perr(p, "path", "%s is disks[%u]; an image can be attached once", v->path,
                                            j);
        }
        for (uint32_t i = 0; i < c->n_nics; i++)
                for (uint32_t j = 0; j < i; j++) {
                        snprintf(p->path, sizeof p->path, "nics[%u]", i);
                        if (memcmp(c->nics[i].mac, c->nics[j].mac, 6) == 0)
                                return perr(p, "mac", "duplicates nics[%u]", j);
                        if (c->nics[i].tap[0] && strcmp(c->nics[i].tap, c->nics[j].tap) == 0)
                                return perr(p, "tap", "duplicates nics[%u]", j);
                }
        uint32_t queues = 0;
        for (uint32_t i = 0; i < c->n_nics; i++) {
                queues += c->nics[i].queues;
                if (queues > VM_NIC_QUEUES_MAX) {
                        snprintf(p->path, sizeof p->path, "nics[%u]", i);
                        return perr(p, "queues", "the NICs have more than %u queues in all", VM_NIC_QUEUES_MAX);
                }
        }
        p->path[0] = 0;
        return check_dm(p, c);
}

/* Instance GUIDs must be stable across restarts: derive the missing ones from
 * the VM id, which vmms assigns once at creation. */
static void derive_instances(struct vm_config *c) {
        char name[32];
        for (uint32_t i = 0; i < VM_SCSI_CONTROLLERS_MAX; i++)
                if (guid_is_null(&c->scsi_instance[i])) {
                        snprintf(name, sizeof name, "scsi%u", i);
                        guid_derive(&c->id, name, &c->scsi_instance[i]);
                }
        for (uint32_t i = 0; i < c->n_nics; i++)
                if (guid_is_null(&c->nics[i].instance)) {
                        snprintf(name, sizeof name, "nic%u", i);
                        guid_derive(&c->id, name, &c->nics[i].instance);
                }
}

static int parse_root(struct pctx *p, json_object *root, struct vm_config *c) {
        static const char *const keys[] = { "version", "name", "id", "memory_mib", "allow_memory_over_host", "vcpus", "boot",
                                            "serial_log", "disks", "dvd_drives", "scsi_instances", "nics",
                                            "integration", "hvsock", "dynamic_memory", "display", "restart_policy",
                                            "stop_timeout_s", "checkpoint_type", "processor", NULL };
        uint32_t version = 1;
        int r, policy = (int)c->restart_policy, ckpt_type = (int)c->checkpoint_type;

        if (!json_object_is_type(root, json_type_object))
                return perr(p, "", "the configuration must be a JSON object ({...}), not %s",
                            json_object_is_type(root, json_type_array) ? "an array" : "a single value");
        if ((r = check_keys(p, root, keys)) < 0 || (r = get_u32(p, root, "version", 1, 1, &version)) < 0 ||
            (r = get_str(p, root, "name", c->name, sizeof c->name, true)) < 0)
                return r;
        if (!vm_name_is_valid(c->name))
                return perr(p, "name", "must be 1-%d characters of [A-Za-z0-9._-], not starting with . or -",
                            VM_NAME_MAX);
        if ((r = get_guid(p, root, "id", &c->id)) < 0 ||
            (r = get_u32(p, root, "memory_mib", VM_MEMORY_MIN_MIB, VM_MEMORY_MAX_MIB, &c->memory_mib)) < 0 ||
            (r = get_bool(p, root, "allow_memory_over_host", &c->allow_memory_over_host)) < 0 ||
            (r = get_u32(p, root, "vcpus", 1, VM_VCPUS_MAX, &c->vcpus)) < 0 ||
            (r = parse_boot(p, get(root, "boot"), c)) < 0 ||
            (r = get_path(p, root, "serial_log", c->serial_log, false)) < 0 ||
            (r = parse_array(p, root, "disks", VM_DISKS_MAX, &c->n_disks, c->disks, sizeof c->disks[0],
                             parse_disk_cb)) < 0 ||
            (r = parse_array(p, root, "dvd_drives", VM_DVD_DRIVES_MAX, &c->n_dvds, c->dvds, sizeof c->dvds[0],
                             parse_dvd_cb)) < 0 ||
            (r = parse_array(p, root, "nics", VM_NICS_MAX, &c->n_nics, c->nics, sizeof c->nics[0],
                             parse_nic_cb)) < 0 ||
            (r = parse_ic(p, get(root, "integration"), &c->ic)) < 0 ||
            (r = parse_hvsock(p, get(root, "hvsock"), &c->hvsock)) < 0 ||
            (r = parse_dm(p, get(root, "dynamic_memory"), c)) < 0 ||
            (r = parse_display(p, get(root, "display"), &c->display)) < 0 ||
            (r = vm_processor_config_parse(get(root, "processor"), &c->processor, p->err, p->errlen)) < 0 ||
            (r = get_enum(p, root, "restart_policy", vm_config_restart_policies,
                          ARRAY_SIZE(vm_config_restart_policies), &policy)) < 0 ||
            (r = get_u32(p, root, "stop_timeout_s", 1, 3600, &c->stop_timeout_s)) < 0 ||
            (r = get_enum(p, root, "checkpoint_type", vm_config_checkpoint_types,
                          ARRAY_SIZE(vm_config_checkpoint_types), &ckpt_type)) < 0)
                return r;
        c->restart_policy = (enum vm_restart_policy)policy;
        c->checkpoint_type = (enum vm_checkpoint_type)ckpt_type;

        json_object *si = get(root, "scsi_instances");
        if (si) {
                if (!json_object_is_type(si, json_type_array) ||
                    json_object_array_length(si) > VM_SCSI_CONTROLLERS_MAX)
                        return perr(p, "scsi_instances", "must be an array of at most %u GUIDs",
                                    VM_SCSI_CONTROLLERS_MAX);
                for (size_t i = 0; i < json_object_array_length(si); i++) {
                        json_object *g = json_object_array_get_idx(si, i);
                        if (!json_object_is_type(g, json_type_string) ||
                            guid_from_string(json_object_get_string(g), &c->scsi_instance[i]) < 0)
                                return perr(p, "scsi_instances", "entry %zu is not a GUID", i);
                }
        }
        return check_cross_fields(p, c);
}

/* json-c keeps the last of two equal keys without a word; in a
 * configuration that is a mistake to report ("memory_mib" twice). Scans the
 * text json-c accepted: for each object the keys as written. Objects with
 * more than DUP_KEYS_MAX keys are not checked beyond those (check_keys()
 * refuses such objects anyway); nesting is bounded by the tokener's depth. */
#define DUP_KEYS_MAX 64
#define DUP_DEPTH_MAX 32
static bool find_duplicate_key(const char *s, size_t len, char *out, size_t outlen) {
        struct level {
                bool object, want_key;
                unsigned n;
                size_t off[DUP_KEYS_MAX], klen[DUP_KEYS_MAX];
        } *st = calloc(DUP_DEPTH_MAX, sizeof *st);
        int depth = -1;
        bool found = false;
        if (!st)
                return false;
        for (size_t i = 0; i < len && !found; i++) {
                char ch = s[i];
                if (ch == '{' || ch == '[') {
                        if (++depth >= DUP_DEPTH_MAX)
                                break;
                        st[depth] = (struct level){ .object = ch == '{', .want_key = ch == '{' };
                } else if (ch == '}' || ch == ']') {
                        if (depth >= 0) /* text json-c has not vetted yet may close more than it opened */
                                depth--;
                } else if (ch == ',' && depth >= 0 && st[depth].object) {
                        st[depth].want_key = true;
                } else if (ch == '"') {
                        size_t start = ++i;
                        while (i < len && s[i] != '"')
                                i += s[i] == '\\' ? 2 : 1;
                        if (depth < 0 || !st[depth].object || !st[depth].want_key)
                                continue;
                        struct level *l = &st[depth];
                        size_t kl = MIN(i, len) - start;
                        l->want_key = false;
                        for (unsigned k = 0; k < l->n && !found; k++)
                                if (l->klen[k] == kl && !memcmp(s + l->off[k], s + start, kl)) {
                                        snprintf(out, outlen, "%.*s", (int)MIN(kl, 200), s + start);
                                        found = true;
                                }
                        if (l->n < DUP_KEYS_MAX) {
                                l->off[l->n] = start;
                                l->klen[l->n++] = kl;
                        }
                }
        }
        free(st);
        return found;
}

int vm_config_check_duplicate_keys(const char *json, size_t len, char *err, size_t errlen) {
        char dup[256];
        if (!find_duplicate_key(json, len, dup, sizeof dup))
                return 0;
        snprintf(err, errlen, "%s: appears twice in one object (only one may be given)", dup);
        return -EINVAL;
}

int vm_config_parse(const char *json, size_t len, struct vm_config *out, char *err, size_t errlen) {
        struct pctx p = { .err = err, .errlen = errlen };
        if (err && errlen)
                err[0] = 0;
        if (len > VM_CONFIG_MAX_BYTES)
                return perr(&p, "", "configuration larger than %u bytes", VM_CONFIG_MAX_BYTES);

        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(32);
        if (!tok)
                return -ENOMEM;
        _cleanup_(json_object_putp) json_object *root = json_tokener_parse_ex(tok, json, (int)len);
        enum json_tokener_error e = json_tokener_get_error(tok);
        if (!root || e != json_tokener_success)
                return perr(&p, "", "invalid JSON: %s",
                            e == json_tokener_continue ? "unexpected end of input" : json_tokener_error_desc(e));
        /* Trailing bytes (other than whitespace or a final NUL) are an error too. */
        for (size_t i = tok->char_offset; i < len; i++)
                if (json[i] != ' ' && json[i] != '\n' && json[i] != '\t' && json[i] != '\r' &&
                    !(json[i] == 0 && i == len - 1))
                        return perr(&p, "", "trailing data after the JSON object");
        char dup[256];
        if (find_duplicate_key(json, len, dup, sizeof dup))
                return perr(&p, dup, "appears twice in one object (only one may be given)");

        struct vm_config *c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        vm_config_init_defaults(c);
        int r = parse_root(&p, root, c);
        if (r >= 0) {
                derive_instances(c);
                memcpy(out, c, sizeof *c);
        }
        free(c);
        return r;
}
