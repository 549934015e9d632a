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

/* Each section as its object (NULL: out of memory), in the keys' order
 * vm_config_to_json has always written. */
static json_object *boot_to_json(const struct vm_config *c) {
        json_object *boot = json_object_new_object();
        if (!boot)
                return NULL;
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
        return boot;
}

/* A rate limit's object of its non-zero fields (keys[i] for v[i]); NULL
 * (and nothing to write) when all are zero. */
static json_object *limits_to_json(const char *const *keys, const uint64_t *v, size_t n) {
        json_object *q = NULL;
        for (size_t i = 0; i < n; i++)
                if (v[i] && (q || (q = json_object_new_object())))
                        add_int(q, keys[i], (int64_t)v[i]);
        return q;
}

static json_object *disk_to_json(const struct vm_disk_config *d) {
        static const char *const qos_keys[] = { "max_iops", "min_iops", "max_bytes_per_s" };
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        add_str(o, "path", d->path);
        add_bool(o, "read_only", d->read_only);
        add_str(o, "bus", vm_config_disk_buses[d->bus]);
        add_int(o, "controller", d->controller);
        add_int(o, "lun", d->lun);
        add_int(o, "sector_size", d->sector_size);
        add_str(o, "format", vm_config_disk_formats[d->format]);
        const uint64_t qos[] = { d->qos.max_iops, d->qos.min_iops, d->qos.max_bytes_per_s };
        json_object *q = limits_to_json(qos_keys, qos, ARRAY_SIZE(qos));
        if (q)
                json_object_object_add(o, "qos", q);
        return o;
}

static json_object *dvds_to_json(const struct vm_config *c) {
        json_object *dvds = json_object_new_array();
        for (uint32_t i = 0; dvds && i < c->n_dvds; i++) {
                json_object *o = json_object_new_object();
                add_int(o, "channel", c->dvds[i].channel);
                add_int(o, "position", c->dvds[i].position);
                if (c->dvds[i].path[0])
                        add_str(o, "path", c->dvds[i].path);
                json_object_array_add(dvds, o);
        }
        return dvds;
}

static json_object *nic_to_json(const struct vm_nic_config *n) {
        static const char *const qos_keys[] = { "max_in_bps", "max_out_bps", "min_weight" };
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
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
        const uint64_t qos[] = { n->qos.max_in_bps, n->qos.max_out_bps, n->qos.min_weight };
        json_object *q = limits_to_json(qos_keys, qos, ARRAY_SIZE(qos));
        if (q)
                json_object_object_add(o, "qos", q);
        return o;
}

/* The disks, SCSI instances and NICs arrays into root, in that order
 * (the DVD drives between the disks and the SCSI instances). */
static bool devices_to_json(json_object *root, const struct vm_config *c) {
        json_object *disks = json_object_new_array(), *si = json_object_new_array(),
                    *nics = json_object_new_array();
        if (!disks || !si || !nics) {
                json_object_put(disks), json_object_put(si), json_object_put(nics);
                return false;
        }
        for (uint32_t i = 0; i < c->n_disks; i++)
                json_object_array_add(disks, disk_to_json(&c->disks[i]));
        json_object_object_add(root, "disks", disks);
        if (c->n_dvds)
                json_object_object_add(root, "dvd_drives", dvds_to_json(c));
        for (uint32_t i = 0; i < VM_SCSI_CONTROLLERS_MAX; i++) {
                char s[GUID_STRING_MAX];
                json_object_array_add(si, json_object_new_string(guid_to_string(&c->scsi_instance[i], s)));
        }
        json_object_object_add(root, "scsi_instances", si);
        for (uint32_t i = 0; i < c->n_nics; i++)
                json_object_array_add(nics, nic_to_json(&c->nics[i]));
        json_object_object_add(root, "nics", nics);
        return true;
}

static json_object *ic_to_json(const struct vm_ic_config *c) {
        json_object *ic = json_object_new_object();
        if (!ic)
                return NULL;
        add_bool(ic, "shutdown", c->shutdown);
        add_bool(ic, "heartbeat", c->heartbeat);
        add_bool(ic, "timesync", c->timesync);
        add_bool(ic, "kvp", c->kvp);
        add_bool(ic, "vss", c->vss);
        add_bool(ic, "fcopy", c->fcopy);
        add_int(ic, "timesync_interval_s", c->timesync_interval_s);
        return ic;
}

static json_object *hvsock_to_json(const struct vm_hvsock_config *c) {
        json_object *hv = json_object_new_object(), *svcs = json_object_new_array();
        if (!hv || !svcs) {
                json_object_put(hv), json_object_put(svcs);
                return NULL;
        }
        add_bool(hv, "enabled", c->enabled);
        add_int(hv, "max_connections", c->max_connections);
        for (uint32_t i = 0; i < c->n_services; i++) {
                json_object *o = json_object_new_object();
                add_int(o, "port", c->services[i].port);
                add_str(o, "path", c->services[i].path);
                json_object_array_add(svcs, o);
        }
        json_object_object_add(hv, "services", svcs);
        if (c->socket[0])
                add_str(hv, "socket", c->socket);
        return hv;
}

static json_object *dm_to_json(const struct vm_dm_config *d) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        add_bool(o, "enabled", d->enabled);
        if (d->minimum_mib)
                add_int(o, "minimum_mib", d->minimum_mib);
        if (d->maximum_mib)
                add_int(o, "maximum_mib", d->maximum_mib);
        add_int(o, "buffer_percent", d->buffer_percent);
        add_int(o, "weight", d->weight);
        return o;
}

static json_object *display_to_json(const struct vm_display_config *v) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
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
        return o;
}

/* Adds v as root's key; false (v NULL: out of memory) fails the document. */
static bool add_section(json_object *root, const char *key, json_object *v) {
        if (!v)
                return false;
        json_object_object_add(root, key, v);
        return true;
}

char *vm_config_to_json(const struct vm_config *c) {
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        if (!root)
                return NULL;
        add_int(root, "version", 1);
        add_str(root, "name", c->name);
        add_guid(root, "id", &c->id);
        add_int(root, "memory_mib", c->memory_mib);
        if (c->allow_memory_over_host)
                add_bool(root, "allow_memory_over_host", true);
        add_int(root, "vcpus", c->vcpus);
        if (!add_section(root, "boot", boot_to_json(c)))
                return NULL;
        if (c->serial_log[0])
                add_str(root, "serial_log", c->serial_log);
        if (!devices_to_json(root, c) || !add_section(root, "integration", ic_to_json(&c->ic)))
                return NULL;
        if ((c->hvsock.enabled || c->hvsock.n_services) && !add_section(root, "hvsock", hvsock_to_json(&c->hvsock)))
                return NULL;
        const struct vm_dm_config *d = &c->dm;
        if ((d->enabled || d->minimum_mib || d->maximum_mib || d->buffer_percent != 20 || d->weight != 5000) &&
            !add_section(root, "dynamic_memory", dm_to_json(d)))
                return NULL;
        const struct vm_display_config *v = &c->display;
        if ((v->enabled || v->width != 1024 || v->height != 768 || v->vnc_port || v->web_port || v->keymap[0] ||
             v->socket[0]) &&
            !add_section(root, "display", display_to_json(v)))
                return NULL;
        json_object *proc = vm_processor_config_to_json(&c->processor);
        if (proc)
                json_object_object_add(root, "processor", proc);
        add_str(root, "restart_policy", vm_restart_policy_to_string(c->restart_policy));
        add_str(root, "checkpoint_type", vm_checkpoint_type_to_string(c->checkpoint_type));
        add_int(root, "stop_timeout_s", c->stop_timeout_s);

        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}
