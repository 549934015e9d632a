// SPDX-License-Identifier: MIT
/* Control requests from vmms (any JSON a peer can send) through the worker's
 * request handler with a stub VM: every request gets a reply object with
 * "ok", the config parser/fd assignment never trusts the message, and a
 * hot-plug request (disk-attach ... nic-detach) is refused with a reason or
 * accepted within the configuration's bounds, and so are a disk-qos and a
 * nic-qos. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "vmwp/control.h"
#include "vmwp/vm.h"

static int ok(void *o) {
        return 0;
}
static bool no(void *o) {
        return false;
}
static void nothing(void *o) {
}
static void fields(void *o, struct json_object *into) {
        json_object_object_add(into, "name", json_object_new_string("fuzz"));
}
static int stats(void *o, struct json_object *into) {
        return 0;
}

static int vss(void *o, uint8_t op) {
        return op == 5 ? 0 : -EBUSY; /* FREEZE goes, the others are refused */
}

static int memory(void *o, bool set, uint64_t target, struct json_object *into) {
        if (set && target > (1ull << 50))
                abort(); /* the handler bounds it */
        return 0;
}

static int nmi(void *o) {
        return 2;
}

static const struct vmwp_control_ops ops = { .pause = ok, .resume = ok, .is_paused = no, .stop = nothing,
                                             .power_button = nothing, .nmi = nmi, .status = fields, .stats = stats,
                                             .vss = vss, .memory = memory };

/* A running VM's configuration for the hot-plug requests: SCSI and IDE
 * disks, a VHDX, a NIC. */
static const char base_config[] =
        "{\"name\":\"fz\",\"memory_mib\":64,\"vcpus\":2,\"boot\":{\"kernel\":\"/k\"},"
        "\"disks\":[{\"path\":\"/a.img\"},{\"path\":\"/cd.img\",\"bus\":\"ide\"},{\"path\":\"/b.vhdx\",\"lun\":1}],"
        "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"tap0\",\"queues\":2}],"
        "\"dvd_drives\":[{\"path\":\"/x.iso\"},{\"channel\":1,\"position\":1}]}";

/* vmwp_control_parse_hotplug: an answer for everything, and what it
 * accepts is within the configuration's bounds. */
static void hotplug(struct json_object *req, size_t n_fds) {
        static struct vm_config *cfg;
        static struct vmwp_hotplug h;
        char err[512] = "";
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                if (!cfg || vm_config_parse(base_config, sizeof base_config - 1, cfg, err, sizeof err) < 0)
                        abort();
        }
        int r = vmwp_control_parse_hotplug(cfg, req, n_fds, &h, err, sizeof err);
        if (r < 0 && !err[0])
                abort(); /* every refusal says why */
        if (r < 0)
                return;
        switch (h.op) {
        case VMWP_DISK_ATTACH:
                if (h.index != cfg->n_disks || h.disk.bus != VM_DISK_SCSI || n_fds != 1 + h.parents ||
                    h.disk.controller >= VM_SCSI_CONTROLLERS_MAX || h.disk.lun >= VM_SCSI_LUNS_MAX)
                        abort();
                break;
        case VMWP_NIC_ATTACH:
                if (h.index != cfg->n_nics || !h.nic.tap[0] || n_fds != h.queues + h.steer || h.queues < 1 ||
                    h.queues > vm_nic_queues(&h.nic, cfg->vcpus) || (h.steer && h.queues < 2))
                        abort();
                break;
        case VMWP_DISK_DETACH:
        case VMWP_DISK_RESIZE:
                if (h.index >= cfg->n_disks || cfg->disks[h.index].bus != VM_DISK_SCSI || n_fds ||
                    (h.op == VMWP_DISK_RESIZE && (h.size == 0 || h.size % cfg->disks[h.index].sector_size)))
                        abort();
                break;
        case VMWP_NIC_DETACH:
                if (h.index >= cfg->n_nics || n_fds)
                        abort();
                break;
        case VMWP_HOTPLUG_NONE:
                abort();
        }
}

/* vmwp_control_parse_dvd: a drive of the configuration, the fd rule, a
 * bounded path; every refusal says why. */
static void dvd(struct json_object *req, size_t n_fds) {
        static struct vm_config *cfg;
        char err[512] = "", path[VM_PATH_MAX];
        uint32_t drive = 0;
        bool insert = false;
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                if (!cfg || vm_config_parse(base_config, sizeof base_config - 1, cfg, err, sizeof err) < 0)
                        abort();
        }
        int r = vmwp_control_parse_dvd(cfg, req, n_fds == 1, &drive, &insert, path, err, sizeof err);
        if (r < 0 && !err[0])
                abort();
        if (r == 0 && (drive >= cfg->n_dvds || insert != (n_fds == 1) || strlen(path) >= VM_PATH_MAX))
                abort();
}

/* vmwp_control_parse_disk_qos: a disk of the configuration and settings
 * the configuration's own check accepts; every refusal says why. */
static void disk_qos(struct json_object *req) {
        static struct vm_config *cfg;
        char err[512] = "";
        uint32_t disk = 0;
        struct vm_disk_qos q;
        const char *field;
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                if (!cfg || vm_config_parse(base_config, sizeof base_config - 1, cfg, err, sizeof err) < 0)
                        abort();
        }
        int r = vmwp_control_parse_disk_qos(cfg, req, &disk, &q, err, sizeof err);
        if (r < 0 && !err[0])
                abort();
        if (r == 0 && (disk >= cfg->n_disks || vm_disk_qos_invalid(&q, &field)))
                abort();
}

/* vmwp_control_parse_nic_qos: a NIC of the configuration and caps the
 * configuration's own check accepts; every refusal says why. */
static void nic_qos(struct json_object *req) {
        static struct vm_config *cfg;
        char err[512] = "";
        uint32_t nic = 0;
        struct vm_nic_qos q;
        const char *field;
        if (!cfg) {
                cfg = malloc(sizeof *cfg);
                if (!cfg || vm_config_parse(base_config, sizeof base_config - 1, cfg, err, sizeof err) < 0)
                        abort();
        }
        int r = vmwp_control_parse_nic_qos(cfg, req, &nic, &q, err, sizeof err);
        if (r < 0 && !err[0])
                abort();
        if (r == 0 && (nic >= cfg->n_nics || vm_nic_qos_invalid(&q, &field)))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_tokener *tok = json_tokener_new_ex(32);
        if (!tok)
                return 0;
        struct json_object *req = json_tokener_parse_ex(tok, (const char *)data, (int)size);
        json_tokener_free(tok);
        if (!req)
                return 0;
        const char *state;
        int held[3] = { -1, -1, -1 }; /* a message's fds (placeholders): kept or closed as the op's row in proto.h says */
        struct json_object *rep = vmwp_control_handle(&ops, NULL, req, held, size % 4, &state);
        struct json_object *okv;
        if (!rep || !json_object_object_get_ex(rep, "ok", &okv))
                abort();
        json_object_put(rep);
        if (vmwp_control_hotplug_op(req) != VMWP_HOTPLUG_NONE)
                hotplug(req, size % 4);
        dvd(req, size % 4);
        disk_qos(req);
        nic_qos(req);
        struct vm_config *cfg = malloc(sizeof *cfg);
        char err[256];
        if (cfg && vmwp_control_parse_config(req, cfg, err, sizeof err) == 0) {
                struct vmwp_vm_options opt;
                vmwp_vm_options_init(&opt);
                int fds[2] = { -1, -1 };
                (void)vmwp_control_assign_fds(cfg, req, fds, 2, &opt, err, sizeof err);
        }
        free(cfg);
        json_object_put(req);
        return 0;
}
