// SPDX-License-Identifier: MIT
/* A cloud-init seed on the migration channel (vmms/migchan.h,
 * docs/migration.md "The cloud-init seed"): the request's "seed" field,
 * built and parsed, and the SEED frame's bytes checked. Pure. */
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/vmstate.h"
#include "vmms/iso-probe.h"
#include "vmms/migchan.h"
#include "migration/channel-seed.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static bool seed_size_ok(int64_t n) {
        return n > 0 && n <= (int64_t)VMMS_MIGCHAN_SEED_MAX;
}

char *vmms_migchan_request_add_seed(const char *request, const struct vmms_migchan_seed *seed) {
        if (!seed_size_ok(seed->size))
                return NULL;
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse(request);
        json_object *s = json_object_new_object();
        if (!o || !json_object_is_type(o, json_type_object) || !s || json_object_object_add(o, "seed", s) < 0) {
                json_object_put(s);
                return NULL;
        }
        json_object_object_add(s, "drive", json_object_new_int64(seed->drive));
        json_object_object_add(s, "size", json_object_new_int64(seed->size));
        json_object_object_add(s, "crc32c", json_object_new_int64(seed->crc32c));
        const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        return t ? strdup(t) : NULL;
}

/* A member of "seed": an integer in [0, max]. */
static bool member(json_object *s, const char *key, int64_t max, int64_t *v) {
        json_object *m;
        if (!json_object_object_get_ex(s, key, &m) || !json_object_is_type(m, json_type_int))
                return false;
        *v = json_object_get_int64(m);
        return *v >= 0 && *v <= max;
}

/* "seed" as an object of exactly drive, size and crc32c in bounds. */
static int seed_object(json_object *s, struct vmms_migchan_seed *out) {
        int64_t drive, size, crc;
        if (!json_object_is_type(s, json_type_object) || json_object_object_length(s) != 3 ||
            !member(s, "drive", VM_DVD_DRIVES_MAX - 1, &drive) || !member(s, "size", VMMS_MIGCHAN_SEED_MAX, &size) ||
            !member(s, "crc32c", UINT32_MAX, &crc) || !seed_size_ok(size))
                return -EINVAL;
        *out = (struct vmms_migchan_seed){ .drive = (uint32_t)drive, .size = (uint32_t)size, .crc32c = (uint32_t)crc };
        return 0;
}

int64_t vmms_migchan_request_seed_size(const char *body, size_t len) {
        if (len > INT32_MAX)
                return -EINVAL;
        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        _cleanup_(json_object_putp) json_object *o = json_tokener_parse_ex(tok, body, (int)len);
        json_tokener_free(tok);
        json_object *s;
        struct vmms_migchan_seed seed;
        if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "seed", &s))
                return 0; /* no seed (a malformed request is refused by its parse) */
        return seed_object(s, &seed) < 0 ? -EINVAL : (int64_t)seed.size;
}

int vmms_migchan_seed_parse(json_object *o, struct vmms_migchan_request *out, char *err, size_t errlen) {
        json_object *s;
        out->has_seed = json_object_object_get_ex(o, "seed", &s);
        if (!out->has_seed)
                return 0;
        if (seed_object(s, &out->seed) < 0)
                return snprintf(err, errlen, "seed: must be {\"drive\":N,\"size\":1..%u,\"crc32c\":N}",
                                VMMS_MIGCHAN_SEED_MAX),
                       -EINVAL;
        if (out->seed.drive >= out->config.n_dvds || !out->config.dvds[out->seed.drive].path[0])
                return snprintf(err, errlen, "seed: drive %u holds no disc in the configuration", out->seed.drive),
                       -EINVAL;
        return 0;
}

/* The primary volume descriptor's volume identifier (ISO 9660 §8.4.6:
 * bytes 40-71 of block 16, d-characters padded with spaces) is label. */
static bool volume_label_is(const uint8_t *b, size_t len, const char *label) {
        const size_t at = 16u * 2048u + 40u, n = strlen(label);
        if (len < at + 32u)
                return false;
        for (size_t i = 0; i < 32u; i++) {
                uint8_t c = i < n ? (uint8_t)label[i] : (uint8_t)' ';
                if (b[at + i] != c)
                        return false;
        }
        return true;
}

int vmms_migchan_seed_check(const uint8_t *bytes, size_t len, const struct vmms_migchan_seed *seed, char *err,
                            size_t errlen) {
        struct iso_probe p;
        char why[160];
        if (len != seed->size)
                return snprintf(err, errlen, "seed: %zu bytes came, the request said %u", len, seed->size), -EINVAL;
        if (vmstate_crc32c(0, bytes, len) != seed->crc32c)
                return snprintf(err, errlen, "seed: its CRC-32C differs from the request's"), -EINVAL;
        if (iso_probe_disc(bytes, len, len, why, sizeof why) < 0 || iso_probe(bytes, len, &p, why, sizeof why) < 0)
                return snprintf(err, errlen, "seed: %s", why), -EINVAL;
        if (!p.iso9660 || (!volume_label_is(bytes, len, "cidata") && !volume_label_is(bytes, len, "CIDATA")))
                return snprintf(err, errlen, "seed: not an ISO 9660 image labelled cidata"), -EINVAL;
        return 0;
}
