// SPDX-License-Identifier: MIT
/* VM configuration (common/config.h): the names of its enums' values, the
 * checks of a name, a keymap and a MAC address, and the defaults. Parsing
 * is config-parse.c, writing the JSON document config-write.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/macro.h"
#include "config-internal.h"

const char *const vm_config_boot_kinds[VM_BOOT_FIRMWARE + 1] = {
        [VM_BOOT_PVH] = "pvh",
        [VM_BOOT_LINUX] = "linux",
        [VM_BOOT_FIRMWARE] = "firmware",
};
const char *const vm_config_boot_devices[VM_BOOT_DEVICE_DISK + 1] = {
        [VM_BOOT_DEVICE_DVD] = "dvd",
        [VM_BOOT_DEVICE_DISK] = "disk",
};
const char *const vm_config_restart_policies[VM_RESTART_ALWAYS + 1] = {
        [VM_RESTART_NEVER] = "never",
        [VM_RESTART_ON_FAILURE] = "on-failure",
        [VM_RESTART_ALWAYS] = "always",
};
const char *const vm_config_checkpoint_types[VM_CHECKPOINT_DISABLED + 1] = {
        [VM_CHECKPOINT_PRODUCTION] = "production",
        [VM_CHECKPOINT_PRODUCTION_ONLY] = "production-only",
        [VM_CHECKPOINT_STANDARD] = "standard",
        [VM_CHECKPOINT_DISABLED] = "disabled",
};
const char *const vm_config_disk_buses[VM_DISK_IDE + 1] = { [VM_DISK_SCSI] = "scsi", [VM_DISK_IDE] = "ide" };
const char *const vm_config_disk_formats[VM_DISK_VHDX + 1] = { [VM_DISK_RAW] = "raw", [VM_DISK_VHDX] = "vhdx" };

enum vm_disk_format vm_disk_format_for_path(const char *path) {
        const char *dot = strrchr(path, '.');
        if (dot && !strchr(dot, '/') && (strcasecmp(dot, ".vhdx") == 0 || strcasecmp(dot, ".avhdx") == 0))
                return VM_DISK_VHDX;
        return VM_DISK_RAW;
}

const char *vm_disk_qos_invalid(const struct vm_disk_qos *q, const char **field) {
        *field = q->max_iops > VM_DISK_QOS_MAX_IOPS   ? "max_iops"
                 : q->min_iops > VM_DISK_QOS_MAX_IOPS ? "min_iops"
                 : q->max_bytes_per_s > VM_DISK_QOS_MAX_BYTES_PER_S ? "max_bytes_per_s"
                 : q->max_iops && q->min_iops > q->max_iops ? "min_iops"
                                                            : NULL;
        if (!*field)
                return NULL;
        if (!strcmp(*field, "max_bytes_per_s"))
                return "must be at most 1000000000000 (1 TB/s; 0: no limit)";
        if (q->max_iops <= VM_DISK_QOS_MAX_IOPS && q->min_iops <= VM_DISK_QOS_MAX_IOPS)
                return "is above max_iops (a minimum the maximum forbids)";
        return "must be at most 10000000 (normalised 8 KiB IOPS; 0: none)";
}

static bool nic_bps_invalid(uint64_t bps) {
        return bps && (bps < VM_NIC_QOS_MIN_BPS || bps > VM_NIC_QOS_MAX_BPS);
}

const char *vm_nic_qos_invalid(const struct vm_nic_qos *q, const char **field) {
        *field = nic_bps_invalid(q->max_in_bps) ? "max_in_bps" : nic_bps_invalid(q->max_out_bps) ? "max_out_bps" : NULL;
        if (*field)
                return "must be 0 (no cap) or 1000000..1000000000000 bits/s (1 Mbit/s..1 Tbit/s)";
        *field = q->min_weight > VM_NIC_QOS_MAX_WEIGHT ? "min_weight" : NULL;
        return *field ? "must be 0 (none) or 1..100 (a share of the uplink)" : NULL;
}

const char *vm_disk_format_to_string(enum vm_disk_format f) {
        return f < ARRAY_SIZE(vm_config_disk_formats) ? vm_config_disk_formats[f] : "?";
}

const char *vm_boot_kind_to_string(enum vm_boot_kind k) {
        return (unsigned)k < ARRAY_SIZE(vm_config_boot_kinds) ? vm_config_boot_kinds[k] : "unknown";
}
const char *vm_boot_device_to_string(enum vm_boot_device d) {
        return (unsigned)d < ARRAY_SIZE(vm_config_boot_devices) ? vm_config_boot_devices[d] : "unknown";
}
const char *vm_restart_policy_to_string(enum vm_restart_policy p) {
        return (unsigned)p < ARRAY_SIZE(vm_config_restart_policies) ? vm_config_restart_policies[p] : "unknown";
}
const char *vm_checkpoint_type_to_string(enum vm_checkpoint_type t) {
        return (unsigned)t < ARRAY_SIZE(vm_config_checkpoint_types) ? vm_config_checkpoint_types[t] : "unknown";
}
int vm_checkpoint_type_from_string(const char *s) {
        for (size_t i = 0; s && i < ARRAY_SIZE(vm_config_checkpoint_types); i++)
                if (!strcmp(s, vm_config_checkpoint_types[i]))
                        return (int)i;
        return -EINVAL;
}

bool vm_name_is_valid(const char *name) {
        size_t n = strlen(name);
        if (n == 0 || n > VM_NAME_MAX || name[0] == '.' || name[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.'))
                        return false;
        }
        return true;
}

static bool keymap_part_ok(const char *s, size_t len, bool layout) {
        if (len == 0 || len > 32 || (layout && !(s[0] >= 'a' && s[0] <= 'z')))
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-'))
                        return false;
        }
        return true;
}

bool vm_keymap_is_valid(const char *spec) {
        const char *colon = strchr(spec, ':');
        size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
        return keymap_part_ok(spec, len, true) && (!colon || keymap_part_ok(colon + 1, strlen(colon + 1), false));
}

int vm_mac_parse(const char *s, uint8_t mac[6]) {
        unsigned v[6];
        char tail;
        if (strlen(s) != 17 ||
            sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
                return -EINVAL;
        for (int i = 0; i < 6; i++) {
                if (s[i * 3] == ' ' || s[i * 3] == '+' || s[i * 3] == '-')
                        return -EINVAL;
                mac[i] = (uint8_t)v[i];
        }
        return 0;
}

void vm_mac_format(const uint8_t mac[6], char buf[static 18]) {
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void vm_config_init_defaults(struct vm_config *c) {
        memset(c, 0, sizeof *c);
        c->memory_mib = 256;
        c->vcpus = 1;
        c->boot_kind = VM_BOOT_PVH;
        /* Field by field: a compound literal's padding may be anything,
         * and configurations are compared with memcmp (fuzz-config). */
        c->ic.shutdown = c->ic.heartbeat = c->ic.timesync = c->ic.kvp = true;
        c->hvsock.max_connections = 64;
        c->dm.buffer_percent = 20; /* Hyper-V's defaults */
        c->dm.weight = 5000;
        c->display.width = 1024;
        c->display.height = 768;
        c->processor.limit_pct = VM_CPU_LIMIT_NONE;
        c->processor.weight = VM_CPU_WEIGHT_DEFAULT;
        c->restart_policy = VM_RESTART_NEVER;
        c->stop_timeout_s = 30;
        c->checkpoint_type = VM_CHECKPOINT_PRODUCTION; /* Hyper-V's default */
}
