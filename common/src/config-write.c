// SPDX-License-Identifier: MIT
/* Writing a VM configuration as its JSON document (vm_config_to_json,
 * common/config.h): what vm_config_parse reads back to the same struct. */
#include <json-c/json.h>
#include <string.h>

#include "common/config.h"
#include "common/macro.h"
#include "config-internal.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static void add_str(json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, json_object_new_string(v));
}
static void add_int(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}
static void add_bool(json_object *o, const char *k, bool v) {
        json_object_object_add(o, k, json_object_new_boolean(v));
}
static void add_guid(json_object *o, const char *k, const struct guid *g) {
        char s[GUID_STRING_MAX];
        add_str(o, k, guid_to_string(g, s));
}

char *vm_config_to_json(const struct vm_config *c) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *boot = json_object_new_object(), *disks = json_object_new_array(),
                    *nics = json_object_new_array(), *ic = json_object_new_object(),
                    *si = json_object_new_array();
        if (!root || !boot || !disks || !nics || !ic || !si) {
                json_object_put(boot), json_object_put(disks), json_object_put(nics);
                json_object_put(ic), json_object_put(si);
                return NULL;
        }
        add_int(root, "version", 1);
        add_str(root, "name", c->name);
        add_guid(root, "id", &c->id);
        add_int(root, "memory_mib", c->memory_mib);
        if (c->allow_memory_over_host)
                add_bool(root, "allow_memory_over_host", true);
        add_int(root, "vcpus", c->vcpus);
        add_str(boot, "kind", vm_boot_kind_to_string(c->boot_kind));
        if (c->boot_kind == VM_BOOT_FIRMWARE) {
                json_object *order = json_object_new_array();
                for (uint32_t i = 0; order && i < c->n_boot_order; i++)
                        json_object_array_add(order, json_object_new_string(vm_boot_device_to_string(c->boot_order[i])));
                add_str(boot, "firmware", c->firmware);
                json_object_object_add(boot, "order", order);
        } else {
                add_str(boot, "kernel", c->kernel);
                if (c->initrd[0])
                        add_str(boot, "initrd", c->initrd);
                add_str(boot, "cmdline", c->cmdline);
        }
        json_object_object_add(root, "boot", boot);
        if (c->serial_log[0])
                add_str(root, "serial_log", c->serial_log);
        for (uint32_t i = 0; i < c->n_disks; i++) {
                const struct vm_disk_config *d = &c->disks[i];
                json_object *o = json_object_new_object();
                add_str(o, "path", d->path);
                add_bool(o, "read_only", d->read_only);
                add_str(o, "bus", vm_config_disk_buses[d->bus]);
                add_int(o, "controller", d->controller);
                add_int(o, "lun", d->lun);
                add_int(o, "sector_size", d->sector_size);
                add_str(o, "format", vm_config_disk_formats[d->format]);
                if (d->qos.max_iops || d->qos.min_iops || d->qos.max_bytes_per_s) {
                        json_object *q = json_object_new_object();
                        if (d->qos.max_iops)
                                add_int(q, "max_iops", (int64_t)d->qos.max_iops);
                        if (d->qos.min_iops)
                                add_int(q, "min_iops", (int64_t)d->qos.min_iops);
                        if (d->qos.max_bytes_per_s)
                                add_int(q, "max_bytes_per_s", (int64_t)d->qos.max_bytes_per_s);
                        json_object_object_add(o, "qos", q);
                }
                json_object_array_add(disks, o);
        }
        json_object_object_add(root, "disks", disks);
        if (c->n_dvds) {
                json_object *dvds = json_object_new_array();
                for (uint32_t i = 0; dvds && i < c->n_dvds; i++) {
                        json_object *o = json_object_new_object();
                        add_int(o, "channel", c->dvds[i].channel);
                        add_int(o, "position", c->dvds[i].position);
                        if (c->dvds[i].path[0])
                                add_str(o, "path", c->dvds[i].path);
                        json_object_array_add(dvds, o);
                }
                json_object_object_add(root, "dvd_drives", dvds);
        }
        for (uint32_t i = 0; i < VM_SCSI_CONTROLLERS_MAX; i++) {
                char s[GUID_STRING_MAX];
                json_object_array_add(si, json_object_new_string(guid_to_string(&c->scsi_instance[i], s)));
        }
        json_object_object_add(root, "scsi_instances", si);
        for (uint32_t i = 0; i < c->n_nics; i++) {
                const struct vm_nic_config *n = &c->nics[i];
                json_object *o = json_object_new_object();
                char mac[18];
                vm_mac_format(n->mac, mac);
                add_str(o, "mac", mac);
                if (n->tap[0])
                        add_str(o, "tap", n->tap);
                if (n->bridge[0])
                        add_str(o, "bridge", n->bridge);
                add_int(o, "mtu", n->mtu);
                add_bool(o, "link_up", n->link_up);
                if (n->queues > 1)
                        add_int(o, "queues", n->queues);
                add_guid(o, "instance", &n->instance);
                if (n->qos.max_in_bps || n->qos.max_out_bps || n->qos.min_weight) {
                        json_object *q = json_object_new_object();
                        if (n->qos.max_in_bps)
                                add_int(q, "max_in_bps", (int64_t)n->qos.max_in_bps);
                        if (n->qos.max_out_bps)
                                add_int(q, "max_out_bps", (int64_t)n->qos.max_out_bps);
                        if (n->qos.min_weight)
                                add_int(q, "min_weight", (int64_t)n->qos.min_weight);
                        json_object_object_add(o, "qos", q);
                }
                json_object_array_add(nics, o);
        }
        json_object_object_add(root, "nics", nics);
        add_bool(ic, "shutdown", c->ic.shutdown);
        add_bool(ic, "heartbeat", c->ic.heartbeat);
        add_bool(ic, "timesync", c->ic.timesync);
        add_bool(ic, "kvp", c->ic.kvp);
        add_bool(ic, "vss", c->ic.vss);
        add_bool(ic, "fcopy", c->ic.fcopy);
        add_int(ic, "timesync_interval_s", c->ic.timesync_interval_s);
        json_object_object_add(root, "integration", ic);
        if (c->hvsock.enabled || c->hvsock.n_services) {
                json_object *hv = json_object_new_object(), *svcs = json_object_new_array();
                add_bool(hv, "enabled", c->hvsock.enabled);
                add_int(hv, "max_connections", c->hvsock.max_connections);
                for (uint32_t i = 0; i < c->hvsock.n_services; i++) {
                        json_object *o = json_object_new_object();
                        add_int(o, "port", c->hvsock.services[i].port);
                        add_str(o, "path", c->hvsock.services[i].path);
                        json_object_array_add(svcs, o);
                }
                json_object_object_add(hv, "services", svcs);
                if (c->hvsock.socket[0])
                        add_str(hv, "socket", c->hvsock.socket);
                json_object_object_add(root, "hvsock", hv);
        }
        const struct vm_dm_config *d = &c->dm;
        if (d->enabled || d->minimum_mib || d->maximum_mib || d->buffer_percent != 20 || d->weight != 5000) {
                json_object *o = json_object_new_object();
                add_bool(o, "enabled", d->enabled);
                if (d->minimum_mib)
                        add_int(o, "minimum_mib", d->minimum_mib);
                if (d->maximum_mib)
                        add_int(o, "maximum_mib", d->maximum_mib);
                add_int(o, "buffer_percent", d->buffer_percent);
                add_int(o, "weight", d->weight);
                json_object_object_add(root, "dynamic_memory", o);
        }
        const struct vm_display_config *v = &c->display;
        if (v->enabled || v->width != 1024 || v->height != 768 || v->vnc_port || v->web_port || v->keymap[0] ||
            v->socket[0]) {
                json_object *o = json_object_new_object();
                add_bool(o, "enabled", v->enabled);
                add_int(o, "width", v->width);
                add_int(o, "height", v->height);
                if (v->vnc_port)
                        add_int(o, "vnc_port", v->vnc_port);
                if (v->web_port)
                        add_int(o, "web_port", v->web_port);
                if (v->keymap[0])
                        add_str(o, "keymap", v->keymap);
                if (v->socket[0])
                        add_str(o, "socket", v->socket);
                json_object_object_add(root, "display", o);
        }
        json_object *proc = vm_processor_config_to_json(&c->processor);
        if (proc)
                json_object_object_add(root, "processor", proc);
        add_str(root, "restart_policy", vm_restart_policy_to_string(c->restart_policy));
        add_str(root, "checkpoint_type", vm_checkpoint_type_to_string(c->checkpoint_type));
        add_int(root, "stop_timeout_s", c->stop_timeout_s);

        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}
