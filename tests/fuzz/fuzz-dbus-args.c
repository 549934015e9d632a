// SPDX-License-Identifier: MIT
/* What D-Bus callers send vmms: "name or id" arguments and object paths,
 * configurations for CreateVM/Update (vmms_config_parse_for) and the rules
 * for changing a configuration in each state, and the host-path policy
 * (vmms_config_check_paths, vmms_pool_parse), and the storage pools' calls'
 * arguments (vmms_pool_name_check, vmms_pool_create_check). The input is up to two
 * documents separated by a 0x01 byte: the first is also tried as a name,
 * an object path and a stop timeout. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/names.h"
#include "vmms/paths.h"
#include "vmms/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void refs(const char *s) {
        struct guid id;
        char path[VMMS_VM_PATH_MAX];
        int kind = vmms_vm_ref_parse(s, &id);
        if (kind == VMMS_VM_REF_NAME && !vm_name_is_valid(s))
                abort();
        if (vmms_vm_path_to_id(s, &id) == 0 && strcmp(vmms_vm_path(&id, path), s) != 0)
                abort(); /* one VM, one path */
}

/* The path policy: an accepted path is plain and below a pool (or /dev);
 * an unchanged configuration always passes for whoever may edit it. */
static void paths(const struct vm_config *a, const struct vm_config *b) {
        static const struct vmms_path_policy p = { .pools = { { .dir = "/pool" }, { .dir = "/iso", .read_only = true } },
                                                   .n_pools = 2 };
        char err[1200];
        int r = vmms_config_check_paths(&p, a, NULL, true, err, sizeof err);
        if (r < 0 && !err[0])
                abort();
        if (r == 0 && !vmms_path_is_plain(a->kernel))
                abort();
        if (r == 0 && vmms_config_check_paths(&p, a, a, false, err, sizeof err) != 0)
                abort(); /* what was accepted stays editable */
        if (b)
                (void)vmms_config_check_paths(&p, b, a, false, err, sizeof err);
        struct vmms_pool pool;
        if (vmms_pool_parse(a->kernel, &pool) == 0 && !vmms_path_is_plain(pool.dir))
                abort();
}

/* The storage pools' calls: an accepted name never leaves the pool's
 * directory, and CreatePoolImage accepts only such names. */
static void pool_args(const char *a, const char *b, size_t n) {
        char err[320];
        bool ok = vmms_pool_name_check(a, "name", err, sizeof err) == 0;
        if (ok && (strchr(a, '/') || a[0] == '.' || !a[0]))
                abort();
        (void)vmms_pool_image_format(a);
        if (vmms_pool_create_check(a, b ? b : "vhdx", (uint64_t)n << 9, b ? b : "", err, sizeof err) == 0 && !ok)
                abort();
        if (vmms_pool_create_check(a, "raw", (uint64_t)n << 20, "", err, sizeof err) < 0 && !err[0])
                abort(); /* every refusal says why */
}

static void configs(const char *a, size_t alen, const char *b, size_t blen) {
        static const struct guid id = { { 1, 2, 3, 4, 5, 6, 0x47, 8, 0x89, 10, 11, 12, 13, 14, 15, 16 } };
        struct vm_config *ca = malloc(sizeof *ca), *cb = malloc(sizeof *cb);
        char err[320];
        uint32_t t;
        if (!ca || !cb)
                goto out;
        if (vmms_config_parse_for(a, alen, &id, true, ca, err, sizeof err) < 0) {
                if (!err[0])
                        abort(); /* every refusal says why */
                goto out;
        }
        if (!guid_equal(&ca->id, &id))
                abort();
        for (int s = 0; s < VMMS_STATE_MAX; s++)
                if (vmms_config_check_update(ca, ca, s, err, sizeof err) != 0)
                        abort(); /* no change is always allowed */
        if (vmms_stop_timeout_resolve((uint32_t)alen, ca, &t, err, sizeof err) == 0 && t == 0)
                abort();
        /* The host-memory rule: an unchanged configuration is never refused
         * again, and a refusal names memory_mib. */
        uint64_t host = alen * 64;
        if (vmms_config_check_memory(ca, ca, host, err, sizeof err) != 0)
                abort();
        if (vmms_config_check_memory(ca, NULL, host, err, sizeof err) < 0 && strncmp(err, "memory_mib: ", 12))
                abort();
        bool have_b = b && vmms_config_parse_for(b, blen, &id, true, cb, err, sizeof err) == 0;
        paths(ca, have_b ? cb : NULL);
        if (have_b)
                for (int s = 0; s < VMMS_STATE_MAX; s++) {
                        int r = vmms_config_check_update(ca, cb, s, err, sizeof err);
                        if (r < 0 && !vmms_state_has_worker(s) && s != VMMS_STATE_SAVED)
                                abort(); /* a VM with no worker and no saved state takes any valid configuration */
                }
out:
        free(ca);
        free(cb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        char *sep = memchr(s, 1, size);
        size_t alen = sep ? (size_t)(sep - s) : size;
        if (sep)
                *sep = 0;
        refs(s);
        pool_args(s, sep ? sep + 1 : NULL, size);
        configs(s, alen, sep ? sep + 1 : NULL, sep ? size - alen - 1 : 0);
        free(s);
        return 0;
}
