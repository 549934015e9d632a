// SPDX-License-Identifier: MIT
/* vmctl disk qos VM INDEX [--max-iops=N] [--min-iops=N] [--max-bytes-per-s=N]
 * and vmctl nic qos VM INDEX [--max-in-bps=N] [--max-out-bps=N]
 * [--min-weight=N]: a disk's Storage QoS through SetDiskQoS, a NIC's
 * bandwidth caps through SetNicQoS and its minimum bandwidth weight
 * through SetNicMinWeight (docs/dbus-api.md), on a running or paused VM at once (its worker), else
 * in its configuration. A setting left out keeps its value (read from the
 * VM's Config); 0 is none. Without settings: prints them. Both commands are
 * one implementation over a table of their limits (struct qos_kind). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/macro.h"
#include "vmctl/vmctl.h"

#define QOS_LIMITS_MAX 3
/* An option's getopt value: QOS_OPT + the limit's index in its kind. */
#define QOS_OPT 0x100

struct qos_kind {
        const char *cmd;                  /* "disk qos": argv[0] and messages */
        const char *array;                /* the Config's array: "disks" */
        const char *whose;                /* "a disk's": a bad INDEX's message */
        uint32_t count_max;               /* VM_DISKS_MAX */
        const char *method;               /* "SetDiskQoS" */
        const char *signature;            /* "uttt": the index, then each limit */
        const struct option *opts;        /* --max-iops …, in the order of keys */
        const char *const *keys;          /* the Config's (and --json's) names */
        size_t n;                         /* how many limits */
        size_t n_method;                  /* the first n_method go to method */
        const char *weight_method;        /* the one after them, alone: "SetNicMinWeight"; NULL none */
        const char *number;               /* "a number": a bad value's message */
        const char *note;                 /* after the values: "(8 KiB-normalised; 0: none)" */
};

static const struct option disk_opts[] = {
        { "max-iops", required_argument, NULL, QOS_OPT },
        { "min-iops", required_argument, NULL, QOS_OPT + 1 },
        { "max-bytes-per-s", required_argument, NULL, QOS_OPT + 2 },
        {},
};
static const char *const disk_keys[] = { "max_iops", "min_iops", "max_bytes_per_s" };

static const struct qos_kind disk_qos = {
        .cmd = "disk qos",
        .array = "disks",
        .whose = "a disk's",
        .count_max = VM_DISKS_MAX,
        .method = "SetDiskQoS",
        .signature = "uttt",
        .opts = disk_opts,
        .keys = disk_keys,
        .n = ARRAY_SIZE(disk_keys),
        .n_method = ARRAY_SIZE(disk_keys),
        .number = "a number",
        .note = "(8 KiB-normalised; 0: none)",
};

static const struct option nic_opts[] = {
        { "max-in-bps", required_argument, NULL, QOS_OPT },
        { "max-out-bps", required_argument, NULL, QOS_OPT + 1 },
        { "min-weight", required_argument, NULL, QOS_OPT + 2 },
        {},
};
static const char *const nic_keys[] = { "max_in_bps", "max_out_bps", "min_weight" };

static const struct qos_kind nic_qos = {
        .cmd = "nic qos",
        .array = "nics",
        .whose = "a NIC's",
        .count_max = VM_NICS_MAX,
        .method = "SetNicQoS",
        .signature = "utt",
        .opts = nic_opts,
        .keys = nic_keys,
        .n = ARRAY_SIZE(nic_keys),
        .n_method = 2,
        .weight_method = "SetNicMinWeight",
        .number = "a number of bits/s",
        .note = "(bits/s of frames; in: to the guest; min_weight: a share of the uplink, 0..100; 0: none)",
};

_Static_assert(ARRAY_SIZE(disk_keys) <= QOS_LIMITS_MAX && ARRAY_SIZE(nic_keys) <= QOS_LIMITS_MAX,
               "QOS_LIMITS_MAX is too small");

/* A non-negative decimal number, whole string, starting with a digit
 * (no sign, no white space); -EINVAL otherwise. */
static int parse_u64(const char *s, uint64_t *out) {
        char *end;
        errno = 0;
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *out = v;
        return 0;
}

/* array[index]'s limits from the VM's Config (0 where absent); -ENOENT
 * without that entry. */
static int current(struct vmctl *c, const struct qos_kind *k, const char *path, uint32_t index, uint64_t *val) {
        char *text = NULL;
        int r = vmctl_get_string(c, path, "Config", &text);
        if (r)
                return r;
        json_object *cfg = json_tokener_parse(text), *arr, *e, *qo, *v;
        free(text);
        r = cfg && json_object_object_get_ex(cfg, k->array, &arr) && index < json_object_array_length(arr) ? 0
                                                                                                           : -ENOENT;
        memset(val, 0, k->n * sizeof *val);
        if (r == 0 && (e = json_object_array_get_idx(arr, index)) && json_object_object_get_ex(e, "qos", &qo))
                for (size_t i = 0; i < k->n; i++)
                        if (json_object_object_get_ex(qo, k->keys[i], &v))
                                val[i] = (uint64_t)json_object_get_int64(v);
        json_object_put(cfg);
        return r;
}

static void print(struct vmctl *c, const struct qos_kind *k, const char *vm, uint32_t index, const uint64_t *val) {
        if (c->quiet)
                return;
        if (c->json) {
                printf("{\"index\":%u", index);
                for (size_t i = 0; i < k->n; i++)
                        printf(",\"%s\":%llu", k->keys[i], (unsigned long long)val[i]);
                printf("}\n");
                return;
        }
        printf("%s: %s[%u]", vm, k->array, index);
        for (size_t i = 0; i < k->n; i++)
                printf(" %s=%llu", k->keys[i], (unsigned long long)val[i]);
        printf(" %s\n", k->note);
}

/* The options into set[]/val[]; VMCTL_EXIT_USAGE on a bad one. */
static int parse_options(struct vmctl *c, const struct qos_kind *k, int argc, char **argv, bool *set,
                         uint64_t *val) {
        int opt;
        while ((opt = vmctl_getopt(c, argc, argv, k->opts)) != -1) {
                if (opt < QOS_OPT || opt >= QOS_OPT + (int)k->n)
                        return VMCTL_EXIT_USAGE;
                int i = opt - QOS_OPT;
                if (parse_u64(optarg, &val[i]) < 0) {
                        fprintf(stderr, "vmctl %s: --%s must be %s, 0 or more (0: none), not '%s'\n", k->cmd,
                                k->opts[i].name, (size_t)i < k->n_method ? k->number : "a weight", optarg);
                        return VMCTL_EXIT_USAGE;
                }
                set[i] = true;
        }
        return 0;
}

/* argv[0] is "qos". */
static int qos_run(struct vmctl *c, const struct qos_kind *k, int argc, char **argv) {
        uint64_t val[QOS_LIMITS_MAX] = { 0 }, cur[QOS_LIMITS_MAX] = { 0 };
        bool set[QOS_LIMITS_MAX] = { false }, any = false;
        argv[0] = (char *)k->cmd;
        if (parse_options(c, k, argc, argv, set, val) || vmctl_check_args(argc, argv, 2))
                return VMCTL_EXIT_USAGE;
        uint64_t index;
        if (parse_u64(argv[optind + 1], &index) < 0 || index >= k->count_max) {
                fprintf(stderr, "vmctl %s: INDEX must be %s index (vmctl show lists them), not '%s'\n", k->cmd,
                        k->whose, argv[optind + 1]);
                return VMCTL_EXIT_USAGE;
        }
        int r = c->bus ? 0 : vmctl_connect(c);
        char *path = NULL;
        if (!r)
                r = vmctl_resolve(c, argv[optind], &path);
        if (!r && (r = current(c, k, path, (uint32_t)index, cur)) == -ENOENT) {
                fprintf(stderr, "vmctl %s: %s has no %s[%llu]\n", k->cmd, argv[optind], k->array,
                        (unsigned long long)index);
                r = VMCTL_EXIT_INVALID;
        }
        for (size_t i = 0; i < k->n; i++)
                if (set[i]) {
                        cur[i] = val[i];
                        any |= i < k->n_method;
                }
        if (!r && k->weight_method && set[k->n_method] && cur[k->n_method] > VM_NIC_QOS_MAX_WEIGHT) {
                fprintf(stderr, "vmctl %s: --min-weight must be 0 (none) or 1..100, not %llu\n", k->cmd,
                        (unsigned long long)cur[k->n_method]);
                r = VMCTL_EXIT_USAGE;
        }
        if (!r && k->weight_method && set[k->n_method])
                r = vmctl_call_vm(c, path, k->weight_method, k->weight_method, "uu", (uint32_t)index,
                                  (uint32_t)cur[k->n_method]);
        /* The signature reads k->n limits; a kind with fewer than
         * QOS_LIMITS_MAX leaves the last arguments unread. */
        if (!r && any)
                r = vmctl_call_vm(c, path, k->method, k->method, k->signature, (uint32_t)index, cur[0], cur[1],
                                  cur[2]);
        if (!r)
                print(c, k, argv[optind], (uint32_t)index, cur);
        free(path);
        return r < 0 ? VMCTL_EXIT_FAILURE : r;
}

int vmctl_disk_qos(struct vmctl *c, int argc, char **argv) {
        return qos_run(c, &disk_qos, argc, argv);
}

int vmctl_nic_qos(struct vmctl *c, int argc, char **argv) {
        return qos_run(c, &nic_qos, argc, argv);
}
