// SPDX-License-Identifier: MIT
/* vmctl nic qos VM INDEX [--max-in-bps=N] [--max-out-bps=N]: a NIC's
 * bandwidth caps through SetNicQoS (docs/dbus-api.md), on a running or
 * paused VM at once (its worker), else in its configuration. A setting
 * left out keeps its value (read from the VM's Config); 0 is none.
 * Without settings: prints them. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "vmctl/vmctl.h"

enum { OPT_MAX_IN = 0x100, OPT_MAX_OUT };

static const struct option qos_opts[] = {
        { "max-in-bps", required_argument, NULL, OPT_MAX_IN },
        { "max-out-bps", required_argument, NULL, OPT_MAX_OUT },
        {},
};

/* A non-negative decimal number, whole string; -EINVAL otherwise. */
static int parse_u64(const char *s, uint64_t *out) {
        char *end;
        errno = 0;
        if (!s[0] || s[0] < '0' || s[0] > '9')
                return -EINVAL;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *out = v;
        return 0;
}

/* nics[index]'s caps from the VM's Config; -ENOENT without that NIC. */
static int current(struct vmctl *c, const char *path, uint32_t index, struct vm_nic_qos *q) {
        char *text = NULL;
        int r = vmctl_get_string(c, path, "Config", &text);
        if (r)
                return r;
        json_object *cfg = json_tokener_parse(text), *nics, *n, *qo, *v;
        free(text);
        r = cfg && json_object_object_get_ex(cfg, "nics", &nics) && index < json_object_array_length(nics) ? 0
                                                                                                          : -ENOENT;
        *q = (struct vm_nic_qos){ 0 };
        if (r == 0 && (n = json_object_array_get_idx(nics, index)) && json_object_object_get_ex(n, "qos", &qo)) {
                if (json_object_object_get_ex(qo, "max_in_bps", &v))
                        q->max_in_bps = (uint64_t)json_object_get_int64(v);
                if (json_object_object_get_ex(qo, "max_out_bps", &v))
                        q->max_out_bps = (uint64_t)json_object_get_int64(v);
        }
        json_object_put(cfg);
        return r;
}

static void print(struct vmctl *c, const char *vm, uint32_t index, const struct vm_nic_qos *q) {
        if (c->quiet)
                return;
        if (c->json)
                printf("{\"index\":%u,\"max_in_bps\":%llu,\"max_out_bps\":%llu}\n", index,
                       (unsigned long long)q->max_in_bps, (unsigned long long)q->max_out_bps);
        else
                printf("%s: nics[%u] max_in_bps=%llu max_out_bps=%llu (bits/s of frames; in: to the guest; 0: "
                       "none)\n",
                       vm, index, (unsigned long long)q->max_in_bps, (unsigned long long)q->max_out_bps);
}

/* argv[0] is "qos". */
int vmctl_nic_qos(struct vmctl *c, int argc, char **argv) {
        uint64_t val[2];
        bool set[2] = { false, false };
        int opt;
        argv[0] = (char *)"nic qos";
        while ((opt = vmctl_getopt(c, argc, argv, qos_opts)) != -1) {
                if (opt < OPT_MAX_IN || opt > OPT_MAX_OUT)
                        return VMCTL_EXIT_USAGE;
                int k = opt - OPT_MAX_IN;
                if (parse_u64(optarg, &val[k]) < 0) {
                        fprintf(stderr, "vmctl nic qos: --%s must be a number of bits/s, 0 or more (0: none), not "
                                        "'%s'\n",
                                qos_opts[k].name, optarg);
                        return VMCTL_EXIT_USAGE;
                }
                set[k] = true;
        }
        if (vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        uint64_t index;
        if (parse_u64(argv[optind + 1], &index) < 0 || index >= VM_NICS_MAX) {
                fprintf(stderr, "vmctl nic qos: INDEX must be a NIC's index (vmctl show lists them), not '%s'\n",
                        argv[optind + 1]);
                return VMCTL_EXIT_USAGE;
        }
        int r = c->bus ? 0 : vmctl_connect(c);
        char *path = NULL;
        struct vm_nic_qos q;
        if (!r)
                r = vmctl_resolve(c, argv[optind], &path);
        if (!r && (r = current(c, path, (uint32_t)index, &q)) == -ENOENT) {
                fprintf(stderr, "vmctl nic qos: %s has no nics[%llu]\n", argv[optind], (unsigned long long)index);
                r = VMCTL_EXIT_INVALID;
        }
        if (!r && (set[0] || set[1])) {
                if (set[0])
                        q.max_in_bps = val[0];
                if (set[1])
                        q.max_out_bps = val[1];
                r = vmctl_call_vm(c, path, "SetNicQoS", "SetNicQoS", "utt", (uint32_t)index, q.max_in_bps,
                                  q.max_out_bps);
        }
        if (!r)
                print(c, argv[optind], (uint32_t)index, &q);
        free(path);
        return r < 0 ? VMCTL_EXIT_FAILURE : r;
}
