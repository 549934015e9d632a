// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "vmms/names.h"
#include "vmms/validate.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/* Inserts "id" when the document is an object without one. Anything else is
 * left for vm_config_parse() to report with its own precise message. */
static char *with_id(const char *json, size_t len, const struct guid *id, bool *had_id) {
        _cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(32);
        if (!tok)
                return NULL;
        _cleanup_(json_object_putp) json_object *root = json_tokener_parse_ex(tok, json, (int)len);
        *had_id = true;
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(root, json_type_object) || json_object_object_get_ex(root, "id", NULL))
                return strndup(json, len);
        char s[GUID_STRING_MAX];
        *had_id = false;
        json_object_object_add(root, "id", json_object_new_string(guid_to_string(id, s)));
        const char *out = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return out ? strdup(out) : NULL;
}

int vmms_config_parse_for(const char *json, size_t len, const struct guid *id, bool must_match,
                          struct vm_config *out, char *err, size_t errlen) {
        bool had_id;
        if (len > VM_CONFIG_MAX_BYTES) {
                snprintf(err, errlen, "configuration: larger than %u bytes", VM_CONFIG_MAX_BYTES);
                return -EINVAL;
        }
        if (memchr(json, 0, len)) {
                snprintf(err, errlen, "configuration: contains a NUL byte");
                return -EINVAL;
        }
        if (vm_config_check_duplicate_keys(json, len, err, errlen) < 0) /* with_id() rewrites the text */
                return -EINVAL;
        _cleanup_free_ char *doc = with_id(json, len, id, &had_id);
        if (!doc)
                return -ENOMEM;
        int r = vm_config_parse(doc, strlen(doc), out, err, errlen);
        if (r < 0)
                return r;
        if (vmms_name_is_id_like(out->name)) {
                snprintf(err, errlen, "name: must not have the form of a VM id");
                return -EINVAL;
        }
        if (guid_is_null(&out->id)) {
                snprintf(err, errlen, "id: must not be the null GUID");
                return -EINVAL;
        }
        if (had_id && must_match && !guid_equal(&out->id, id)) {
                snprintf(err, errlen, "id: cannot be changed");
                return -EINVAL;
        }
        return 0;
}

/* n entries of `size` bytes at a and b differ, or (*qos_only) only in
 * the `qos_size` bytes at `qos_off` of each (a disk's Storage QoS, a
 * NIC's bandwidth caps), which a running VM changes without a restart. */
static bool entries_differ(const void *a, const void *b, uint32_t n, size_t size, size_t qos_off, size_t qos_size,
                           bool *qos_only) {
        union {
                struct vm_disk_config disk;
                struct vm_nic_config nic;
        } x, y;
        bool qos = false;
        *qos_only = false;
        if (size > sizeof x || qos_off + qos_size > size)
                return true;
        for (uint32_t i = 0; i < n; i++) {
                /* memcpy: the padding too, as memcmp compares it */
                memcpy(&x, (const char *)a + i * size, size);
                memcpy(&y, (const char *)b + i * size, size);
                qos |= memcmp((char *)&x + qos_off, (char *)&y + qos_off, qos_size) != 0;
                memset((char *)&x + qos_off, 0, qos_size);
                memset((char *)&y + qos_off, 0, qos_size);
                if (memcmp(&x, &y, size))
                        return true;
        }
        *qos_only = qos;
        return qos;
}

/* The disks differ, or (*qos_only) only in their Storage QoS. */
static bool disks_differ(const struct vm_config *a, const struct vm_config *b, bool *qos_only) {
        *qos_only = false;
        return a->n_disks != b->n_disks ||
               entries_differ(a->disks, b->disks, a->n_disks, sizeof a->disks[0],
                              offsetof(struct vm_disk_config, qos), sizeof a->disks[0].qos, qos_only);
}

/* The NICs differ; *qos_only: in their bandwidth caps alone. */
static bool nics_differ(const struct vm_config *a, const struct vm_config *b, bool *qos_only) {
        *qos_only = false;
        return a->n_nics != b->n_nics ||
               entries_differ(a->nics, b->nics, a->n_nics, sizeof a->nics[0], offsetof(struct vm_nic_config, qos),
                              sizeof a->nics[0].qos, qos_only);
}

/* The first worker-visible field that differs, or NULL. */
static const char *first_worker_change(const struct vm_config *a, const struct vm_config *b) {
        if (a->memory_mib != b->memory_mib)
                return "memory_mib";
        if (a->vcpus != b->vcpus)
                return "vcpus";
        if (a->boot_kind != b->boot_kind || strcmp(a->kernel, b->kernel) || strcmp(a->initrd, b->initrd) ||
            strcmp(a->cmdline, b->cmdline) || strcmp(a->firmware, b->firmware) ||
            a->n_boot_order != b->n_boot_order ||
            memcmp(a->boot_order, b->boot_order, sizeof a->boot_order[0] * a->n_boot_order))
                return "boot";
        if (strcmp(a->serial_log, b->serial_log))
                return "serial_log";
        bool qos_only;
        if (disks_differ(a, b, &qos_only))
                return qos_only ? "disks[].qos" : "disks";
        if (a->n_dvds != b->n_dvds || memcmp(a->dvds, b->dvds, sizeof a->dvds[0] * a->n_dvds))
                return "dvd_drives";
        if (memcmp(a->scsi_instance, b->scsi_instance, sizeof a->scsi_instance))
                return "scsi_instances";
        if (nics_differ(a, b, &qos_only))
                return qos_only ? "nics[].qos" : "nics";
        if (memcmp(&a->ic, &b->ic, sizeof a->ic))
                return "integration";
        if (memcmp(&a->display, &b->display, sizeof a->display))
                return "display";
        return NULL;
}

int vmms_config_check_update(const struct vm_config *cur, const struct vm_config *next, enum vmms_state s,
                             char *err, size_t errlen) {
        if (!guid_equal(&cur->id, &next->id)) {
                snprintf(err, errlen, "id: cannot be changed");
                return -EINVAL;
        }
        /* A Saved VM's state is for the devices it has: as while it runs. */
        if (!vmms_state_has_worker(s) && s != VMMS_STATE_SAVED)
                return 0;
        const char *f = first_worker_change(cur, next);
        if (f) {
                bool running = s == VMMS_STATE_RUNNING;
                bool devices = running && (!strcmp(f, "disks") || !strcmp(f, "nics"));
                bool dvd = running && !strcmp(f, "dvd_drives");
                bool qos = !strcmp(f, "disks[].qos"), nic_qos = !strcmp(f, "nics[].qos");
                snprintf(err, errlen, "%s: can only change while the VM is Off or Crashed (it is %s%s)%s", f,
                         vmms_state_to_string(s),
                         s == VMMS_STATE_SAVED ? ": DiscardSavedState, or start it and shut it down, first" : "",
                         devices ? "; a running VM's disks and NICs change one at a time with AttachDisk, "
                                   "DetachDisk, AttachNic, DetachNic (vmctl disk|nic attach|detach)"
                         : dvd   ? "; a running VM's DVD disc changes with InsertDvd, EjectDvd (vmctl dvd "
                                   "insert|eject)"
                         : qos   ? "; a disk's Storage QoS changes with SetDiskQoS (vmctl disk qos VM INDEX "
                                   "--max-iops=N ...) in any state"
                         : nic_qos ? "; a NIC's bandwidth caps change with SetNicQoS (vmctl nic qos VM INDEX "
                                     "--max-in-bps=N ...) in any state"
                                   : "");
                return -EBUSY;
        }
        return 0;
}

int vmms_stop_timeout_resolve(uint32_t requested, const struct vm_config *c, uint32_t *out_s, char *err,
                              size_t errlen) {
        if (requested > VMMS_STOP_TIMEOUT_MAX_S) {
                snprintf(err, errlen, "timeout: must be 0 (the VM's stop_timeout_s) or 1..%u seconds",
                         VMMS_STOP_TIMEOUT_MAX_S);
                return -EINVAL;
        }
        *out_s = requested ? requested : c->stop_timeout_s;
        return 0;
}

int vmms_config_check_memory(const struct vm_config *c, const struct vm_config *cur, uint64_t host_mib, char *err,
                             size_t errlen) {
        if (!host_mib || c->memory_mib <= host_mib || c->allow_memory_over_host)
                return 0;
        if (cur && cur->memory_mib == c->memory_mib && !cur->allow_memory_over_host)
                return 0;
        snprintf(err, errlen,
                 "memory_mib: %" PRIu32 " MiB is more than this host's memory (%" PRIu64 " MiB); set "
                 "\"allow_memory_over_host\": true (vmctl --force) to allow it",
                 c->memory_mib, host_mib);
        return -E2BIG;
}
