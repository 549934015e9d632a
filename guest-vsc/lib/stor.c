// SPDX-License-Identifier: MIT
/* storvsc client, channel set-up: OPENCHANNEL of the primary channel
 * (§6.1), the init handshake exactly as Linux 6.1's storvsc_channel_init
 * (§6.3), CREATE_SUB_CHANNELS and the sub-channel offers (§6.7), close.
 * The I/O path is in stor-io.c. */
#include "stor-internal.h"

/* Linux 6.1's protocol_version[] (storvsc_drv.c), highest first. */
static const uint16_t stor_versions[] = {
        VMSTOR_PROTO_VERSION_WIN10,
        VMSTOR_PROTO_VERSION_WIN8_1,
        VMSTOR_PROTO_VERSION_WIN8,
};

static const uint8_t scsi_class[16] = HV_SCSI_GUID;
static const uint8_t ide_class[16] = HV_IDE_GUID;

static const char *op_name(uint32_t op) {
        switch (op) {
        case VSTOR_OPERATION_BEGIN_INITIALIZATION: return "BEGIN_INITIALIZATION";
        case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION: return "QUERY_PROTOCOL_VERSION";
        case VSTOR_OPERATION_QUERY_PROPERTIES: return "QUERY_PROPERTIES";
        case VSTOR_OPERATION_END_INITIALIZATION: return "END_INITIALIZATION";
        case VSTOR_OPERATION_CREATE_SUB_CHANNELS: return "CREATE_SUB_CHANNELS";
        default: return "control request";
        }
}

int vsc_stor_open(struct vsc_stor *s, struct vsc_bus *bus, const struct vsc_offer *offer) {
        /* storvsc passes a zeroed vmstorage_channel_properties as user data (§6.1) */
        static const uint8_t userdata[sizeof(struct vmstorage_channel_properties)];
        vsc_memset(s, 0, sizeof *s);
        s->bus = bus;
        for (unsigned i = 0; i < VSC_STOR_MAX_INFLIGHT; i++)
                s->free_slots[i] = (uint16_t)(VSC_STOR_MAX_INFLIGHT - 1 - i);
        s->n_free = VSC_STOR_MAX_INFLIGHT;
        bool ide = offer && !vsc_memcmp(offer->if_type, ide_class, 16);
        if (!offer || (!ide && vsc_memcmp(offer->if_type, scsi_class, 16)) || offer->sub_channel_index != 0)
                return vsc_fail(bus, -EINVAL, "storvsc: not the primary channel of a SCSI or IDE controller");
        vsc_memcpy(s->instance, offer->if_instance, 16);
        /* An IDE accelerator holds one disk, at the target Linux's
         * storvsc_probe reads from the instance (bytes 4-5), lun 0. */
        s->ide = ide;
        s->ide_target = (uint16_t)(ide ? offer->if_instance[5] << 8 | offer->if_instance[4] : 0);
        int r = vsc_channel_open(bus, &s->ch[0], offer, VSC_STOR_RING_BYTES, VSC_STOR_RING_BYTES, userdata,
                                 sizeof userdata);
        if (r < 0)
                return r;
        s->n_channels = 1;
        return 0;
}

/* One control request on the primary channel (trans_id VMBUS_RQST_INIT,
 * completion requested, §6.3); its reply replaces *v. Unsolicited packets
 * meanwhile are noted; anything else is a protocol error. */
static int stor_control(struct vsc_stor *s, struct vstor_packet *v) {
        struct vsc_bus *bus = s->bus;
        uint32_t op = v->operation;
        v->flags = REQUEST_COMPLETION_FLAG;
        int r = vsc_channel_send(&s->ch[0], VM_PKT_DATA_INBAND, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
                                 VMBUS_RQST_INIT, v, sizeof *v);
        if (r < 0)
                return vsc_fail(bus, r, "storvsc: sending %s failed (%d)", op_name(op), r);
        uint64_t start = bus->ops->now_ns(bus->ctx), deadline = start + bus->timeout_ns;
        for (;;) {
                struct vsc_stor_reply reply;
                r = vsc_stor_take(s, 0, &reply);
                if (r == 0 && reply.unsolicited)
                        continue;
                if (r == 0 && reply.trans_id != VMBUS_RQST_INIT)
                        return vsc_fail(bus, -EPROTO, "storvsc: reply with trans_id 0x%lx while waiting for %s",
                                        reply.trans_id, op_name(op));
                if (r == 0) {
                        *v = reply.pkt;
                        return 0;
                }
                if (r != -EAGAIN)
                        return r;
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (now >= deadline)
                        return vsc_fail(bus, -ETIMEDOUT, "timeout: no reply to storvsc %s within %lu ms",
                                        op_name(op), (now - start) / 1000000);
                bus->ops->idle(bus->ctx, deadline);
        }
}

/* A control step that must succeed (status 0, §6.3). */
static int stor_step(struct vsc_stor *s, uint32_t op, struct vstor_packet *v) {
        vsc_memset(v, 0, sizeof *v);
        v->operation = op;
        int r = stor_control(s, v);
        if (r < 0)
                return r;
        if (v->status != STORVSC_STATUS_SUCCESS)
                return vsc_fail(s->bus, -EIO, "storvsc: host failed %s: status 0x%x", op_name(op), v->status);
        return 0;
}

static int negotiate_version(struct vsc_stor *s) {
        struct vstor_packet v;
        for (size_t i = 0; i < sizeof stor_versions / sizeof stor_versions[0]; i++) {
                vsc_memset(&v, 0, sizeof v);
                v.operation = VSTOR_OPERATION_QUERY_PROTOCOL_VERSION;
                v.version.major_minor = stor_versions[i];
                v.version.revision = 0;
                int r = stor_control(s, &v);
                if (r < 0)
                        return r;
                if (v.status == STORVSC_STATUS_SUCCESS) { /* else: try the next, as Linux */
                        s->version = stor_versions[i];
                        return 0;
                }
        }
        return vsc_fail(s->bus, -EPROTONOSUPPORT,
                        "storvsc: host refused protocol 0x0602, 0x0600 and 0x0501 (Linux: Obsolete Hyper-V version)");
}

int vsc_stor_init(struct vsc_stor *s) {
        struct vstor_packet v;
        if (s->n_channels == 0)
                return vsc_fail(s->bus, -ENOTCONN, "storvsc: init before the channel is open");
        int r = stor_step(s, VSTOR_OPERATION_BEGIN_INITIALIZATION, &v);
        if (r == 0)
                r = negotiate_version(s);
        if (r == 0)
                r = stor_step(s, VSTOR_OPERATION_QUERY_PROPERTIES, &v);
        if (r < 0)
                return r;
        s->props = v.storage_channel_properties;
        /* Linux: max_sectors = round_down(max_transfer_bytes, 4096) / 512;
         * 0 leaves the block layer's one-page minimum (§6.3 step 3). */
        uint32_t max = s->props.max_transfer_bytes & ~4095u;
        s->max_transfer = max < 4096 ? 4096 : max > VSC_STOR_MAX_TRANSFER ? VSC_STOR_MAX_TRANSFER : max;
        r = stor_step(s, VSTOR_OPERATION_END_INITIALIZATION, &v);
        if (r < 0)
                return r;
        s->initialized = true;
        return 0;
}

int vsc_stor_open_subchannels(struct vsc_stor *s, unsigned want) {
        static const uint8_t userdata[sizeof(struct vmstorage_channel_properties)];
        if (!s->initialized)
                return vsc_fail(s->bus, -ENOTCONN, "storvsc: sub-channels before init");
        unsigned have = s->n_channels - 1, room = VSC_STOR_MAX_CHANNELS - s->n_channels;
        unsigned n = want < s->props.max_channel_cnt ? want : s->props.max_channel_cnt;
        n = n < room ? n : room;
        /* §6.3 step 6: only with the multi-channel flag, nothing for 0 */
        if (!(s->props.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL) || n == 0)
                return 0;
        struct vstor_packet v;
        vsc_memset(&v, 0, sizeof v);
        v.operation = VSTOR_OPERATION_CREATE_SUB_CHANNELS;
        v.sub_channel_count = (uint16_t)(have + n); /* the host counts all it offered */
        int r = stor_control(s, &v);
        if (r == 0 && v.status != STORVSC_STATUS_SUCCESS)
                r = vsc_fail(s->bus, -EIO, "storvsc: host failed CREATE_SUB_CHANNELS: status 0x%x", v.status);
        if (r == 0)
                r = vsc_wait_sub_offers(s->bus, scsi_class, s->instance, have + 1, n, "storvsc");
        for (unsigned i = 0; r == 0 && i < n; i++) {
                const struct vsc_offer *o = vsc_find_sub_offer(s->bus, scsi_class, s->instance, (uint16_t)(have + 1 + i));
                r = vsc_channel_open(s->bus, &s->ch[s->n_channels], o, VSC_STOR_RING_BYTES, VSC_STOR_RING_BYTES,
                                     userdata, sizeof userdata);
                if (r == 0)
                        s->n_channels++;
        }
        return r < 0 ? r : (int)n;
}

int vsc_stor_close(struct vsc_stor *s) {
        int first = 0;
        while (s->n_channels > 0) {
                int r = vsc_channel_close(&s->ch[--s->n_channels]);
                if (r < 0 && first == 0)
                        first = r;
        }
        s->initialized = false;
        return first;
}
