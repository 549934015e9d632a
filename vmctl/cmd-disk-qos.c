// SPDX-License-Identifier: MIT
/* vmctl disk qos VM INDEX [--max-iops=N] [--min-iops=N] [--max-bytes-per-s=N]:
 * a disk's Storage QoS through SetDiskQoS (docs/dbus-api.md), on a
 * running or paused VM at once (its worker), else in its configuration.
 * A setting left out keeps its value (read from the VM's Config); 0 is
 * none. Without settings: prints them. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "vmctl/vmctl.h"

enum { OPT_MAX_IOPS = 0x100, OPT_MIN_IOPS, OPT_MAX_BPS };

static const struct option qos_opts[] = {
        { "max-iops", required_argument, NULL, OPT_MAX_IOPS },
        { "min-iops", required_argument, NULL, OPT_MIN_IOPS },
        { "max-bytes-per-s", required_argument, NULL, OPT_MAX_BPS },
        {},
};

/* A non-negative decimal number, whole string; -EINVAL otherwise. */
static int parse_u64(const char *s, uint64_t *out) {
        char *end;
        errno = 0;
        if (!s[0] || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *out = v;
        return 0;
}

/* disks[index]'s settings from the VM's Config; -ENOENT without that disk. */
static int current(struct vmctl *c, const char *path, uint32_t index, struct vm_disk_qos *q) {
        char *text = NULL;
        int r = vmctl_get_string(c, path, "Config", &text);
        if (r)
                return r;
        json_object *cfg = json_tokener_parse(text), *disks, *d, *qo, *v;
        free(text);
        r = cfg && json_object_object_get_ex(cfg, "disks", &disks) && index < json_object_array_length(disks) ? 0
                                                                                                             : -ENOENT;
        *q = (struct vm_disk_qos){ 0 };
        if (r == 0 && (d = json_object_array_get_idx(disks, index)) && json_object_object_get_ex(d, "qos", &qo)) {
                if (json_object_object_get_ex(qo, "max_iops", &v))
                        q->max_iops = (uint64_t)json_object_get_int64(v);
                if (json_object_object_get_ex(qo, "min_iops", &v))
                        q->min_iops = (uint64_t)json_object_get_int64(v);
                if (json_object_object_get_ex(qo, "max_bytes_per_s", &v))
                        q->max_bytes_per_s = (uint64_t)json_object_get_int64(v);
        }
        json_object_put(cfg);
        return r;
}

static void print(struct vmctl *c, const char *vm, uint32_t index, const struct vm_disk_qos *q) {
        if (c->quiet)
                return;
        if (c->json)
                printf("{\"index\":%u,\"max_iops\":%llu,\"min_iops\":%llu,\"max_bytes_per_s\":%llu}\n", index,
                       (unsigned long long)q->max_iops, (unsigned long long)q->min_iops,
                       (unsigned long long)q->max_bytes_per_s);
        else
                printf("%s: disks[%u] max_iops=%llu min_iops=%llu max_bytes_per_s=%llu (8 KiB-normalised; 0: none)\n",
                       vm, index, (unsigned long long)q->max_iops, (unsigned long long)q->min_iops,
                       (unsigned long long)q->max_bytes_per_s);
}

/* argv[0] is "qos". */
int vmctl_disk_qos(struct vmctl *c, int argc, char **argv) {
        uint64_t val[3];
        bool set[3] = { false, false, false };
        int opt;
        argv[0] = (char *)"disk qos";
        while ((opt = vmctl_getopt(c, argc, argv, qos_opts)) != -1) {
                if (opt < OPT_MAX_IOPS || opt > OPT_MAX_BPS)
                        return VMCTL_EXIT_USAGE;
                int k = opt - OPT_MAX_IOPS;
                if (parse_u64(optarg, &val[k]) < 0) {
                        fprintf(stderr, "vmctl disk qos: --%s must be a number, 0 or more (0: none), not '%s'\n",
                                qos_opts[k].name, optarg);
                        return VMCTL_EXIT_USAGE;
                }
                set[k] = true;
        }
        if (vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        uint64_t index;
        if (parse_u64(argv[optind + 1], &index) < 0 || index >= VM_DISKS_MAX) {
                fprintf(stderr, "vmctl disk qos: INDEX must be a disk's index (vmctl show lists them), not '%s'\n",
                        argv[optind + 1]);
                return VMCTL_EXIT_USAGE;
        }
        int r = c->bus ? 0 : vmctl_connect(c);
        char *path = NULL;
        struct vm_disk_qos q;
        if (!r)
                r = vmctl_resolve(c, argv[optind], &path);
        if (!r && (r = current(c, path, (uint32_t)index, &q)) == -ENOENT) {
                fprintf(stderr, "vmctl disk qos: %s has no disks[%llu]\n", argv[optind], (unsigned long long)index);
                r = VMCTL_EXIT_INVALID;
        }
        if (!r && (set[0] || set[1] || set[2])) {
                uint64_t *field[] = { &q.max_iops, &q.min_iops, &q.max_bytes_per_s };
                for (int k = 0; k < 3; k++)
                        if (set[k])
                                *field[k] = val[k];
                r = vmctl_call_vm(c, path, "SetDiskQoS", "SetDiskQoS", "uttt", (uint32_t)index, q.max_iops,
                                  q.min_iops, q.max_bytes_per_s);
        }
        if (!r)
                print(c, argv[optind], (uint32_t)index, &q);
        free(path);
        return r < 0 ? VMCTL_EXIT_FAILURE : r;
}
