// SPDX-License-Identifier: MIT
/* The migration channel's frames and bodies (vmms/migchan.h): what a peer
 * vmms sends before the workers' stream. Every input here comes from the
 * network (authenticated, but another host): bounded, checked, never
 * trusted to be well-formed. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/migchan.h"
#include "migration/channel-seed.h"

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}
static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}
static uint16_t get_le16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void vmms_migchan_frame_build(uint8_t out[VMMS_MIGCHAN_FRAME_SIZE], enum vmms_migchan_kind kind, uint32_t body_len) {
        memcpy(out, VMMS_MIGCHAN_MAGIC, 4);
        put_le16(out + 4, VMMS_MIGCHAN_VERSION);
        put_le16(out + 6, (uint16_t)kind);
        put_le32(out + 8, body_len);
        put_le32(out + 12, 0);
}

int vmms_migchan_frame_parse(const uint8_t *buf, size_t len, enum vmms_migchan_kind expect, uint32_t *body_len) {
        if (len < VMMS_MIGCHAN_FRAME_SIZE || memcmp(buf, VMMS_MIGCHAN_MAGIC, 4) != 0 || get_le32(buf + 12) != 0)
                return -EBADMSG;
        if (get_le16(buf + 4) != VMMS_MIGCHAN_VERSION)
                return -EPROTONOSUPPORT;
        if (get_le16(buf + 6) != (uint16_t)expect)
                return -EPROTO;
        uint32_t n = get_le32(buf + 8);
        uint32_t max = expect == VMMS_MIGCHAN_REQUEST ? VMMS_MIGCHAN_BODY_MAX
                       : expect == VMMS_MIGCHAN_SEED  ? VMMS_MIGCHAN_SEED_MAX
                                                      : VMMS_MIGCHAN_ERROR_MAX + 256u;
        if (n == 0 || n > max)
                return -EMSGSIZE;
        *body_len = n;
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

static char *to_string_dup(json_object *o) {
        const char *s = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;
        return s ? strdup(s) : NULL;
}

bool vmms_migchan_user_name_valid(const char *s) {
        size_t n = strnlen(s, VMMS_MIGCHAN_USER_MAX + 1);
        if (n == 0 || n > VMMS_MIGCHAN_USER_MAX || s[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '.' || s[i] == '_' || s[i] == '-'))
                        return false;
        return true;
}

static void session_hex(const struct vmms_migchan_session *s, char out[33]) {
        for (size_t i = 0; i < sizeof s->id; i++)
                snprintf(out + 2 * i, 3, "%02x", s->id[i]);
}

/* 32 lowercase hex digits, exactly. */
static int session_from_hex(const char *h, struct vmms_migchan_session *s) {
        if (strlen(h) != 2 * sizeof s->id)
                return -EINVAL;
        for (size_t i = 0; i < 2 * sizeof s->id; i++) {
                int v = h[i] >= '0' && h[i] <= '9' ? h[i] - '0' : h[i] >= 'a' && h[i] <= 'f' ? h[i] - 'a' + 10 : -1;
                if (v < 0)
                        return -EINVAL;
                s->id[i / 2] = (uint8_t)(i % 2 ? s->id[i / 2] | v : v << 4);
        }
        return 0;
}

bool vmms_migchan_boot_status_valid(const char *s) {
        return !strcmp(s, "firmware") || !strcmp(s, "booted") || !strcmp(s, "no-bootable-device");
}

static char *request_build(const struct vm_config *c, uid_t owner, const char *owner_name, const char *mode,
                           int64_t size, int start, const struct vmms_migchan_disk *disks,
                           const struct vmms_migchan_session *session, uint64_t memory_target,
                           const char *boot_status) {
        _cleanup_free_ char *cfg = vm_config_to_json(c);
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!cfg || !o)
                return NULL;
        json_object_object_add(o, "config", json_object_new_string(cfg));
        json_object_object_add(o, "owner", json_object_new_int64((int64_t)owner));
        if (owner_name && owner_name[0]) {
                if (!vmms_migchan_user_name_valid(owner_name))
                        return NULL;
                json_object_object_add(o, "owner_name", json_object_new_string(owner_name));
        }
        json_object_object_add(o, "mode", json_object_new_string(mode));
        if (size >= 0)
                json_object_object_add(o, "size", json_object_new_int64(size));
        if (start >= 0)
                json_object_object_add(o, "start", json_object_new_boolean(start));
        if (memory_target) {
                if (memory_target > INT64_MAX)
                        return NULL;
                json_object_object_add(o, "memory_target", json_object_new_int64((int64_t)memory_target));
        }
        if (boot_status && boot_status[0]) {
                if (!vmms_migchan_boot_status_valid(boot_status))
                        return NULL;
                json_object_object_add(o, "boot_status", json_object_new_string(boot_status));
        }
        if (session) {
                char h[33];
                session_hex(session, h);
                json_object_object_add(o, "session", json_object_new_string(h));
        }
        if (disks) {
                json_object *a = json_object_new_array();
                if (!a)
                        return NULL;
                json_object_object_add(o, "disks", a);
                for (uint32_t i = 0; i < c->n_disks; i++) {
                        json_object *d = json_object_new_object();
                        if (!d || disks[i].size > INT64_MAX || json_object_array_add(a, d) < 0) {
                                json_object_put(d);
                                return NULL;
                        }
                        json_object_object_add(d, "size", json_object_new_int64((int64_t)disks[i].size));
                        json_object_object_add(d, "sector", json_object_new_int64(disks[i].sector));
                }
        }
        return to_string_dup(o);
}

char *vmms_migchan_request_build(const struct vm_config *c, uid_t owner, const char *owner_name,
                                 enum vmms_migrate_mode mode) {
        (void)mode; /* a Saved VM's request has its own builder */
        return request_build(c, owner, owner_name, "live", -1, -1, NULL, NULL, 0, NULL);
}

char *vmms_migchan_disks_request_build(const struct vm_config *c, uid_t owner, const char *owner_name,
                                       const struct vmms_migchan_disk *disks) {
        return request_build(c, owner, owner_name, "live", -1, -1, disks, NULL, 0, NULL);
}

char *vmms_migchan_live_request_build(const struct vm_config *c, uid_t owner, const char *owner_name,
                                      const struct vmms_migchan_disk *disks, const struct vmms_migchan_session *session,
                                      uint64_t memory_target, const char *boot_status) {
        return request_build(c, owner, owner_name, "live", -1, -1, disks, session, memory_target, boot_status);
}

char *vmms_migchan_check_request_build(const struct vm_config *c, uid_t owner, const char *owner_name) {
        return request_build(c, owner, owner_name, "check", -1, -1, NULL, NULL, 0, NULL);
}

char *vmms_migchan_saved_request_build(const struct vm_config *c, uid_t owner, const char *owner_name, uint64_t size,
                                       bool start, uint64_t memory_target, const char *boot_status) {
        return size > INT64_MAX ? NULL
                                : request_build(c, owner, owner_name, "saved", (int64_t)size, start, NULL, NULL,
                                                memory_target, boot_status);
}

/* The body as a JSON object with exactly `keys`, each at most once. */
static int parse_object(const char *body, size_t len, const char *const *keys, size_t n_keys, json_object **out,
                        char *err, size_t errlen) {
        if (len > VMMS_MIGCHAN_BODY_MAX || len > INT32_MAX || memchr(body, 0, len))
                return snprintf(err, errlen, "request: malformed"), -EINVAL;
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(8);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *o = json_tokener_parse_ex(tok, body, (int)len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success || tok->char_offset != (int)len ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return snprintf(err, errlen, "not a JSON object"), -EINVAL;
        }
        json_object_object_foreach(o, k, v) {
                (void)v;
                bool known = false;
                for (size_t i = 0; i < n_keys; i++)
                        known |= strcmp(k, keys[i]) == 0;
                if (!known) {
                        snprintf(err, errlen, "%.64s: unknown field", k);
                        json_object_put(o);
                        return -EINVAL;
                }
        }
        *out = o;
        return 0;
}

/* "size" and "start" of a Saved VM's request, once its configuration is
 * known (the size is bounded by its RAM). */
static int saved_fields_parse(json_object *o, struct vmms_migchan_request *out, char *err, size_t errlen) {
        json_object *v;
        bool has_size = json_object_object_get_ex(o, "size", &v);
        if (out->mode != VMMS_MIGRATE_SAVED) {
                if (has_size || json_object_object_get_ex(o, "start", &v))
                        return snprintf(err, errlen, "size, start: only with mode \"saved\""), -EINVAL;
                return 0;
        }
        uint64_t max = ((uint64_t)out->config.memory_mib << 20) + VMMS_MIGCHAN_SAVED_SLACK;
        if (!has_size || !json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0)
                return snprintf(err, errlen, "size: must be the state file's size in bytes"), -EINVAL;
        out->size = (uint64_t)json_object_get_int64(v);
        if (out->size > max)
                return snprintf(err, errlen, "size: %llu bytes is more than the VM's RAM + 256 MiB",
                                (unsigned long long)out->size),
                       -EINVAL;
        if (!json_object_object_get_ex(o, "start", &v) || !json_object_is_type(v, json_type_boolean))
                return snprintf(err, errlen, "start: must be true or false"), -EINVAL;
        out->start = json_object_get_boolean(v);
        return 0;
}

/* "disks" of a shared-nothing live migration, once the configuration is
 * known: one geometry per disk, a size for each writable one, none for a
 * read-only one. */
static int disks_parse(json_object *o, struct vmms_migchan_request *out, char *err, size_t errlen) {
        json_object *a;
        out->copy_disks = json_object_object_get_ex(o, "disks", &a);
        if (!out->copy_disks)
                return 0;
        if (out->mode != VMMS_MIGRATE_LIVE)
                return snprintf(err, errlen, "disks: only with mode \"live\""), -EINVAL;
        if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != out->config.n_disks)
                return snprintf(err, errlen, "disks: must hold one entry per disk of the configuration"), -EINVAL;
        for (uint32_t i = 0; i < out->config.n_disks; i++) {
                json_object *d = json_object_array_get_idx(a, i), *sz, *sec;
                if (!json_object_is_type(d, json_type_object) || json_object_object_length(d) != 2 ||
                    !json_object_object_get_ex(d, "size", &sz) || !json_object_object_get_ex(d, "sector", &sec) ||
                    !json_object_is_type(sz, json_type_int) || !json_object_is_type(sec, json_type_int))
                        return snprintf(err, errlen, "disks[%u]: must be {\"size\":n,\"sector\":n}", i), -EINVAL;
                int64_t size = json_object_get_int64(sz), sector = json_object_get_int64(sec);
                bool ro = out->config.disks[i].read_only;
                if ((sector != 512 && sector != 4096) || size < 0 || (uint64_t)size > VMMS_MIGCHAN_DISK_MAX ||
                    size % sector || (size == 0) != ro)
                        return snprintf(err, errlen,
                                        "disks[%u]: %s, in sectors of 512 or 4096 bytes, at most 64 TiB", i,
                                        ro ? "a read-only disk is not copied: size 0"
                                           : "a writable disk's size must be more than 0"),
                               -EINVAL;
                out->disks[i] = (struct vmms_migchan_disk){ .size = (uint64_t)size, .sector = (uint32_t)sector };
        }
        return 0;
}

/* "boot_status" of a live or saved request: a firmware VM's BootStatus on
 * the source (docs/firmware.md "Nothing bootable"), one of its words. */
static int boot_status_parse(json_object *o, struct vmms_migchan_request *out, char *err, size_t errlen) {
        json_object *v;
        out->boot_status[0] = 0;
        if (!json_object_object_get_ex(o, "boot_status", &v))
                return 0;
        if (out->mode == VMMS_MIGRATE_CHECK || out->config.boot_kind != VM_BOOT_FIRMWARE)
                return snprintf(err, errlen, "boot_status: only in a live or saved request for a firmware VM"),
                       -EINVAL;
        if (!json_object_is_type(v, json_type_string) || !vmms_migchan_boot_status_valid(json_object_get_string(v)))
                return snprintf(err, errlen, "boot_status: must be \"firmware\", \"booted\" or \"no-bootable-device\""),
                       -EINVAL;
        snprintf(out->boot_status, sizeof out->boot_status, "%s", json_object_get_string(v));
        return 0;
}

/* "memory_target" of a live or saved request, once the configuration is
 * known: a target in its Dynamic Memory range. */
static int memory_target_parse(json_object *o, struct vmms_migchan_request *out, char *err, size_t errlen) {
        json_object *v;
        out->memory_target = 0;
        if (!json_object_object_get_ex(o, "memory_target", &v))
                return 0;
        const struct vm_config *c = &out->config;
        uint64_t lo = (uint64_t)vm_dm_minimum_mib(c) << 20, hi = vm_dm_reach_mib(c) << 20;
        if (out->mode == VMMS_MIGRATE_CHECK || !c->dm.enabled)
                return snprintf(err, errlen, "memory_target: only in a live or saved request for a VM with dynamic memory"),
                       -EINVAL;
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < (int64_t)lo ||
            json_object_get_int64(v) > (int64_t)hi)
                return snprintf(err, errlen, "memory_target: must be bytes in the VM's range, %llu..%llu MiB",
                                (unsigned long long)(lo >> 20), (unsigned long long)(hi >> 20)),
                       -EINVAL;
        out->memory_target = (uint64_t)json_object_get_int64(v);
        return 0;
}

int vmms_migchan_request_parse(const char *body, size_t len, struct vmms_migchan_request *out, char *err,
                               size_t errlen) {
        static const char *const keys[] = { "config", "owner",   "owner_name", "mode",          "size",
                                            "start",  "disks",   "session",    "memory_target", "boot_status",
                                            "seed" };
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;
        char why[320];
        int r = parse_object(body, len, keys, ARRAY_SIZE(keys), &o, err, errlen);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "owner", &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0 || json_object_get_int64(v) >= UINT32_MAX)
                return snprintf(err, errlen, "owner: must be a uid"), -EINVAL;
        out->owner = (uint32_t)json_object_get_int64(v);
        out->owner_name[0] = 0;
        if (json_object_object_get_ex(o, "owner_name", &v)) {
                if (!json_object_is_type(v, json_type_string) || !vmms_migchan_user_name_valid(json_object_get_string(v)))
                        return snprintf(err, errlen, "owner_name: not a user name"), -EINVAL;
                snprintf(out->owner_name, sizeof out->owner_name, "%s", json_object_get_string(v));
        }
        const char *mode = json_object_object_get_ex(o, "mode", &v) && json_object_is_type(v, json_type_string)
                                   ? json_object_get_string(v)
                                   : "";
        if (strcmp(mode, "live") != 0 && strcmp(mode, "saved") != 0 && strcmp(mode, "check") != 0)
                return snprintf(err, errlen, "mode: must be \"live\", \"saved\" or \"check\""), -EINVAL;
        out->mode = strcmp(mode, "live") == 0    ? VMMS_MIGRATE_LIVE
                    : strcmp(mode, "saved") == 0 ? VMMS_MIGRATE_SAVED
                                                 : VMMS_MIGRATE_CHECK;
        out->size = 0;
        out->start = false;
        out->has_session = json_object_object_get_ex(o, "session", &v);
        if (out->has_session && (out->mode != VMMS_MIGRATE_LIVE || !json_object_is_type(v, json_type_string) ||
                                 session_from_hex(json_object_get_string(v), &out->session) < 0))
                return snprintf(err, errlen, "session: must be 32 hex digits, in a live request"), -EINVAL;
        if (!json_object_object_get_ex(o, "config", &v) || !json_object_is_type(v, json_type_string))
                return snprintf(err, errlen, "config: must be the configuration as a string"), -EINVAL;
        size_t clen = (size_t)json_object_get_string_len(v);
        if (clen > VM_CONFIG_MAX_BYTES)
                return snprintf(err, errlen, "config: larger than %u bytes", VM_CONFIG_MAX_BYTES), -EINVAL;
        if (vm_config_parse(json_object_get_string(v), clen, &out->config, why, sizeof why) < 0)
                return snprintf(err, errlen, "config: %s", why), -EINVAL;
        if (guid_is_null(&out->config.id))
                return snprintf(err, errlen, "config: id: is required"), -EINVAL;
        if ((r = disks_parse(o, out, err, errlen)) < 0 || (r = memory_target_parse(o, out, err, errlen)) < 0 ||
            (r = boot_status_parse(o, out, err, errlen)) < 0 || (r = vmms_migchan_seed_parse(o, out, err, errlen)) < 0)
                return r;
        return saved_fields_parse(o, out, err, errlen);
}

/* The peer's words end up in our logs and D-Bus errors: printable ASCII
 * only, bounded. */
static void copy_peer_text(const char *s, char *why, size_t whylen) {
        size_t k = 0;
        for (; s[k] && k + 1 < whylen && k < VMMS_MIGCHAN_ERROR_MAX; k++)
                why[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
        if (whylen)
                why[k] = 0;
}

char *vmms_migchan_answer_build(const char *error) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(!error));
        if (error) {
                char cut[VMMS_MIGCHAN_ERROR_MAX];
                snprintf(cut, sizeof cut, "%s", error);
                json_object_object_add(o, "error", json_object_new_string(cut));
        }
        return to_string_dup(o);
}

char *vmms_migchan_resumable_answer_build(void) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(true));
        json_object_object_add(o, "resumable", json_object_new_boolean(true));
        return to_string_dup(o);
}

int vmms_migchan_answer_parse(const char *body, size_t len, bool *ok, char *why, size_t whylen) {
        return vmms_migchan_answer_parse_ex(body, len, ok, NULL, why, whylen);
}

int vmms_migchan_answer_parse_ex(const char *body, size_t len, bool *ok, bool *resumable, char *why, size_t whylen) {
        static const char *const keys[] = { "ok", "error", "resumable" };
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;
        char err[128];
        if (whylen)
                why[0] = 0;
        if (len > VMMS_MIGCHAN_ERROR_MAX + 256u || parse_object(body, len, keys, ARRAY_SIZE(keys), &o, err, sizeof err) < 0)
                return -EINVAL;
        if (!json_object_object_get_ex(o, "ok", &v) || !json_object_is_type(v, json_type_boolean))
                return -EINVAL;
        *ok = json_object_get_boolean(v);
        bool res = json_object_object_get_ex(o, "resumable", &v);
        if (res && (!json_object_is_type(v, json_type_boolean) || !json_object_get_boolean(v) || !*ok))
                return -EINVAL;
        if (resumable)
                *resumable = res;
        if (json_object_object_get_ex(o, "error", &v)) {
                if (!json_object_is_type(v, json_type_string) || *ok)
                        return -EINVAL;
                copy_peer_text(json_object_get_string(v), why, whylen);
        } else if (!*ok)
                snprintf(why, whylen, "refused without a reason");
        return 0;
}

static const char *const step_names[] = {
        [VMMS_STEP_SENT] = "sent",         [VMMS_STEP_STORED] = "stored",   [VMMS_STEP_REFUSED] = "refused",
        [VMMS_STEP_RELEASED] = "released", [VMMS_STEP_STARTED] = "started", [VMMS_STEP_SAVED] = "saved",
};

const char *vmms_migchan_step_name(enum vmms_migchan_step step) {
        return step >= VMMS_STEP_SENT && step <= VMMS_STEP_SAVED ? step_names[step] : "unknown";
}

static bool step_has_error(enum vmms_migchan_step step) {
        return step == VMMS_STEP_REFUSED || step == VMMS_STEP_SAVED;
}

char *vmms_migchan_step_build(enum vmms_migchan_step step, uint32_t crc, const char *error) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o || step < VMMS_STEP_SENT || step > VMMS_STEP_SAVED)
                return NULL;
        json_object_object_add(o, "step", json_object_new_string(step_names[step]));
        if (step == VMMS_STEP_SENT)
                json_object_object_add(o, "crc32c", json_object_new_int64(crc));
        if (step_has_error(step)) {
                char cut[VMMS_MIGCHAN_ERROR_MAX];
                snprintf(cut, sizeof cut, "%s", error ? error : "no reason given");
                json_object_object_add(o, "error", json_object_new_string(cut));
        }
        return to_string_dup(o);
}

int vmms_migchan_step_parse(const char *body, size_t len, enum vmms_migchan_step *step, uint32_t *crc, char *why,
                            size_t whylen) {
        static const char *const keys[] = { "step", "crc32c", "error" };
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;
        char err[128];
        if (whylen)
                why[0] = 0;
        *crc = 0;
        if (len > VMMS_MIGCHAN_ERROR_MAX + 256u || parse_object(body, len, keys, ARRAY_SIZE(keys), &o, err, sizeof err) < 0)
                return -EINVAL;
        if (!json_object_object_get_ex(o, "step", &v) || !json_object_is_type(v, json_type_string))
                return -EINVAL;
        enum vmms_migchan_step s = 0;
        for (int i = VMMS_STEP_SENT; i <= VMMS_STEP_SAVED; i++)
                if (strcmp(json_object_get_string(v), step_names[i]) == 0)
                        s = (enum vmms_migchan_step)i;
        if (!s)
                return -EINVAL;
        bool has_crc = json_object_object_get_ex(o, "crc32c", &v);
        if (has_crc != (s == VMMS_STEP_SENT))
                return -EINVAL;
        if (has_crc) {
                if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
                    json_object_get_int64(v) > UINT32_MAX)
                        return -EINVAL;
                *crc = (uint32_t)json_object_get_int64(v);
        }
        bool has_error = json_object_object_get_ex(o, "error", &v);
        if (has_error != step_has_error(s) || (has_error && !json_object_is_type(v, json_type_string)))
                return -EINVAL;
        if (has_error)
                copy_peer_text(json_object_get_string(v), why, whylen);
        *step = s;
        return 0;
}

int vmms_migchan_address_parse(const char *s, char *host, size_t hostlen, uint16_t *port) {
        const char *h = s, *colon, *end;
        size_t n;
        if (!s || !*s)
                return -EINVAL;
        if (*s == '[') {
                end = strchr(s, ']');
                if (!end || (end[1] && end[1] != ':'))
                        return -EINVAL;
                h = s + 1;
                n = (size_t)(end - h);
                colon = end[1] ? end + 1 : NULL;
        } else {
                colon = strrchr(s, ':');
                if (colon && strchr(s, ':') != colon)
                        return -EINVAL; /* a bare IPv6 address needs brackets */
                n = colon ? (size_t)(colon - s) : strlen(s);
        }
        if (n == 0 || n >= hostlen)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') || (h[i] >= '0' && h[i] <= '9') ||
                      h[i] == '.' || h[i] == '-' || h[i] == ':' || h[i] == '_'))
                        return -EINVAL;
        memcpy(host, h, n);
        host[n] = 0;
        *port = VMMS_MIGCHAN_DEFAULT_PORT;
        if (colon) {
                char *e;
                if (colon[1] < '0' || colon[1] > '9')
                        return -EINVAL;
                unsigned long p = strtoul(colon + 1, &e, 10);
                if (*e || p == 0 || p > 65535)
                        return -EINVAL;
                *port = (uint16_t)p;
        }
        return 0;
}

char *vmms_migchan_query_build(const struct guid *id) {
        char s[GUID_STRING_MAX];
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "query", json_object_new_string(guid_to_string(id, s)));
        return to_string_dup(o);
}

/* A short message in place of a request, keyed by keys[0] (a string)
 * and with no other keys than keys: 1 with the object in *o and that
 * string in *value, 0 when body is not one (a request, which is a
 * configuration and long), -EINVAL when malformed. */
static int keyed_parse(const char *body, size_t len, const char *const *keys, size_t n_keys, json_object **o,
                       const char **value) {
        char needle[32], err[128];
        json_object *v;
        int n = snprintf(needle, sizeof needle, "\"%s\"", keys[0]);
        if (len > 256 || !memmem(body, len, needle, (size_t)n))
                return 0;
        if (parse_object(body, len, keys, n_keys, o, err, sizeof err) < 0 || !json_object_object_get_ex(*o, keys[0], &v) ||
            !json_object_is_type(v, json_type_string))
                return -EINVAL;
        *value = json_object_get_string(v);
        return 1;
}

int vmms_migchan_query_parse(const char *body, size_t len, struct guid *id) {
        static const char *const keys[] = { "query" };
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *v;
        int r = keyed_parse(body, len, keys, ARRAY_SIZE(keys), &o, &v);
        return r <= 0 ? r : guid_from_string(v, id) < 0 ? -EINVAL : 1;
}

static const char *const outcome_names[] = {
        [VMMS_OUTCOME_TAKEN] = "taken",
        [VMMS_OUTCOME_ABORTED] = "aborted",
        [VMMS_OUTCOME_PENDING] = "pending",
};

char *vmms_migchan_outcome_build(enum vmms_migchan_outcome oc) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(true));
        json_object_object_add(o, "outcome", json_object_new_string(outcome_names[oc]));
        return to_string_dup(o);
}

/* An answer that takes what was asked, {"ok":true,"<field>":...}: 0 with
 * the object in *out; -EINVAL for a refusal (its reason in why, as
 * answer_parse) or for anything else ("a malformed answer to the <what>"). */
static int ok_answer_parse(const char *body, size_t len, const char *field, const char *what, json_object **out,
                           char *why, size_t whylen) {
        const char *const keys[] = { "ok", field };
        json_object *o = NULL, *v;
        char err[128];
        bool ok;
        if (vmms_migchan_answer_parse(body, len, &ok, why, whylen) == 0 && !ok)
                return -EINVAL;
        if (len > 256 || parse_object(body, len, keys, ARRAY_SIZE(keys), &o, err, sizeof err) < 0 ||
            !json_object_object_get_ex(o, "ok", &v) || !json_object_is_type(v, json_type_boolean) ||
            !json_object_get_boolean(v)) {
                json_object_put(o);
                return snprintf(why, whylen, "a malformed answer to the %s", what), -EINVAL;
        }
        *out = o;
        return 0;
}

int vmms_migchan_outcome_parse(const char *body, size_t len, enum vmms_migchan_outcome *oc, char *why,
                               size_t whylen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v;
        int r = ok_answer_parse(body, len, "outcome", "query", &o, why, whylen);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "outcome", &v) || !json_object_is_type(v, json_type_string))
                return snprintf(why, whylen, "a malformed answer to the query"), -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(outcome_names); i++)
                if (strcmp(json_object_get_string(v), outcome_names[i]) == 0) {
                        *oc = (enum vmms_migchan_outcome)i;
                        return 0;
                }
        return snprintf(why, whylen, "an unknown outcome in the answer to the query"), -EINVAL;
}

void vmms_migchan_rframe_build(uint8_t out[VMMS_MIGCHAN_RFRAME_SIZE], enum vmms_migchan_rframe type, uint32_t len) {
        memset(out, 0, VMMS_MIGCHAN_RFRAME_SIZE);
        out[0] = (uint8_t)type;
        put_le32(out + 4, len);
}

int vmms_migchan_rframe_parse(const uint8_t hdr[VMMS_MIGCHAN_RFRAME_SIZE], enum vmms_migchan_rframe *type,
                              uint32_t *len) {
        uint32_t n = get_le32(hdr + 4);
        if (hdr[1] || hdr[2] || hdr[3])
                return -EBADMSG;
        switch (hdr[0]) {
        case VMMS_RFRAME_DATA:
                if (n == 0 || n > VMMS_MIGCHAN_DATA_MAX)
                        return -EBADMSG;
                break;
        case VMMS_RFRAME_ACK:
        case VMMS_RFRAME_FIN:
                if (n != 8)
                        return -EBADMSG;
                break;
        case VMMS_RFRAME_ABORT:
                if (n != 0)
                        return -EBADMSG;
                break;
        default:
                return -EBADMSG;
        }
        *type = (enum vmms_migchan_rframe)hdr[0];
        *len = n;
        return 0;
}

char *vmms_migchan_resume_build(const struct vmms_migchan_session *s, uint64_t received) {
        char h[33];
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o || received > INT64_MAX)
                return NULL;
        session_hex(s, h);
        json_object_object_add(o, "resume", json_object_new_string(h));
        json_object_object_add(o, "received", json_object_new_int64((int64_t)received));
        return to_string_dup(o);
}

/* A JSON integer 0..INT64_MAX - 1 (json-c reads larger ones as INT64_MAX). */
static int get_count(json_object *o, const char *key, uint64_t *out) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
            json_object_get_int64(v) < 0 || json_object_get_int64(v) == INT64_MAX)
                return -EINVAL;
        *out = (uint64_t)json_object_get_int64(v);
        return 0;
}

int vmms_migchan_resume_parse(const char *body, size_t len, struct vmms_migchan_session *s, uint64_t *received) {
        static const char *const keys[] = { "resume", "received" };
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *v;
        int r = keyed_parse(body, len, keys, ARRAY_SIZE(keys), &o, &v);
        if (r <= 0)
                return r;
        return session_from_hex(v, s) < 0 || get_count(o, "received", received) < 0 ? -EINVAL : 1;
}

char *vmms_migchan_resumed_build(uint64_t received) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        if (!o || received > INT64_MAX)
                return NULL;
        json_object_object_add(o, "ok", json_object_new_boolean(true));
        json_object_object_add(o, "received", json_object_new_int64((int64_t)received));
        return to_string_dup(o);
}

int vmms_migchan_resumed_parse(const char *body, size_t len, uint64_t *received, char *why, size_t whylen) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r = ok_answer_parse(body, len, "received", "resume", &o, why, whylen);
        if (r < 0)
                return r;
        if (get_count(o, "received", received) < 0)
                return snprintf(why, whylen, "a malformed answer to the resume"), -EINVAL;
        return 0;
}
