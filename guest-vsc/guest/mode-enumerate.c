// SPDX-License-Identifier: MIT
/* vsc.mode=enumerate: connect to VMBus, list the offers, UNLOAD. One line
 * per offer: class/instance GUID, relid, sub-channel index, connection id. */
#include "guest.h"

static const struct {
        const char *name;
        uint8_t guid[16];
} known_classes[] = {
        { "scsi", HV_SCSI_GUID },          { "nic", HV_NIC_GUID },     { "shutdown", HV_SHUTDOWN_GUID },
        { "timesync", HV_TS_GUID },        { "heartbeat", HV_HEART_BEAT_GUID },
        { "kvp", HV_KVP_GUID },            { "ide", HV_IDE_GUID },
};

static const char *class_name(const uint8_t guid[16]) {
        for (size_t i = 0; i < sizeof known_classes / sizeof known_classes[0]; i++)
                if (!memcmp(known_classes[i].guid, guid, 16))
                        return known_classes[i].name;
        return "unknown";
}

static void report_offers(const struct vsc_bus *bus) {
        for (unsigned i = 0; i < bus->n_offers; i++) {
                const struct vsc_offer *o = &bus->offers[i];
                char cls[VSC_GUID_STRLEN], inst[VSC_GUID_STRLEN];
                vsc_guid_format(o->if_type, cls);
                vsc_guid_format(o->if_instance, inst);
                report("offer=%u relid=%u class=%s kind=%s instance=%s subchannel=%u conn_id=0x%x flags=0x%x "
                       "mmio_mb=%u rescinded=%d",
                       i, o->child_relid, cls, class_name(o->if_type), inst, o->sub_channel_index, o->connection_id,
                       o->chn_flags, o->mmio_megabytes, o->rescinded);
        }
        report("offers=%u", bus->n_offers);
}

/* Hyper-V up, VMBus connected: shared by every mode that talks to VMBus. */
int guest_vmbus_connect(struct guest *g) {
        struct vsc_bus *bus = &g->bus;
        if (!g->hyperv)
                return guest_fail(-ENODEV, "this mode needs Hyper-V and VMBus, and the CPU shows no Hyper-V");
        vsc_bus_init(bus, &guest_vsc_ops, NULL);
        bus->timeout_ns = g->timeout_ns;
        int r = vsc_hv_enable(bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(bus));
        cpu_set_sint_auto_eoi(bus->auto_eoi);
        report("hypercall_page=0x%lx simp=0x%lx siefp=0x%lx vp_index=%u auto_eoi=%d",
               (uint64_t)(uintptr_t)bus->hypercall_page, (uint64_t)(uintptr_t)bus->simp,
               (uint64_t)(uintptr_t)bus->siefp, bus->vp_index, bus->auto_eoi);
        uint64_t t0 = clock_ns();
        r = vsc_connect(bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(bus));
        report("vmbus_version=%u.%u msg_conn_id=%u connect_us=%lu", bus->version >> 16, bus->version & 0xffff,
               bus->msg_conn_id, (clock_ns() - t0) / 1000);
        return 0;
}

int guest_vmbus_disconnect(struct guest *g) {
        struct vsc_bus *bus = &g->bus;
        int r = vsc_unload(bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(bus));
        report("unload=ok");
        struct cpu_counters c;
        cpu_counters(&c);
        report("messages=%lu dropped=%lu eoms=%lu post_retries=%lu sint_interrupts=%lu", bus->stats.messages,
               bus->stats.messages_dropped, bus->stats.eoms, bus->stats.post_retries, c.sint);
        vsc_hv_disable(bus);
        return 0;
}

int mode_enumerate(struct guest *g) {
        int r = guest_vmbus_connect(g);
        if (r < 0)
                return r;
        uint64_t t0 = clock_ns();
        r = vsc_request_offers(&g->bus);
        if (r < 0)
                return guest_fail(r, "%s", vsc_bus_error(&g->bus));
        report("offers_us=%lu", (clock_ns() - t0) / 1000);
        report_offers(&g->bus);
        return guest_vmbus_disconnect(g);
}

int guest_channel_send(struct vsc_channel *ch, const void *buf, size_t len) {
        for (uint64_t t0 = clock_ns();;) {
                int r = vsc_channel_send(ch, VM_PKT_DATA_INBAND, 0, 0, buf, len);
                if (r != -EAGAIN)
                        return r;
                if (clock_ns() - t0 > 5000000000ull)
                        return -ETIMEDOUT;
                cpu_relax();
        }
}
