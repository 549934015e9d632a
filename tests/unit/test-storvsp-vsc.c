// SPDX-License-Identifier: MIT
/* The guest's storvsc client (vsc/stor.h) against a scripted host: the
 * simulated Hyper-V of test-vsc-fake.h plus a storvsc responder that reads
 * the guest's outbound rings and writes replies into the inbound ones
 * whenever the client idles. Checks that the client does what Linux 6.1's
 * storvsc does (§6.3 order and version fallback, packet layouts of §6.4 and
 * §6.5, CREATE_SUB_CHANNELS and the sub-channel opens of §6.7) and that
 * every malformed host reply is refused with a line saying why. The client
 * against the real storvsp is in test-storvsp-vsc-sim.c. */
#include "tests/unit/test-vsc-fake.h"
#include "vsc/stor.h"

#define SCSI_RELID 5u
#define SUB_RELID 20u

struct logged {
        unsigned chan;
        struct vsc_packet p;
        uint8_t raw[2304];
        struct vstor_packet v;
};

struct script {
        struct fake_host *h;
        struct vsc_bus bus;
        struct vsc_stor s;
        struct vsc_ring host_out[VSC_STOR_MAX_CHANNELS], host_in[VSC_STOR_MAX_CHANNELS];
        unsigned attached;
        uint16_t accept_version; /* the one version answered with status 0 */
        uint32_t fail_op, fail_status;
        struct vmstorage_channel_properties props;
        bool silent;
        /* EXECUTE_SRB: default GOOD with the whole transfer; else this */
        void (*srb)(struct script *sc, const struct logged *req);
        struct logged log[64];
        unsigned n_log;
};

static struct script *cur; /* the fake host's idle hook has no context of ours */

static const uint8_t scsi_class[16] = HV_SCSI_GUID;

static void host_send(struct script *sc, unsigned chan, uint16_t type, uint64_t trans_id, const void *payload,
                      size_t len) {
        bool signal;
        ASSERT_OK(vsc_ring_write(&sc->host_in[chan], type, 0, trans_id, NULL, 0, payload, len, &signal));
}

static void host_complete(struct script *sc, unsigned chan, uint64_t trans_id, const struct vstor_packet *v) {
        host_send(sc, chan, VM_PKT_COMP, trans_id, v, sizeof *v);
}

static void queue_sub_offers(struct script *sc, uint16_t n) {
        for (uint16_t i = 1; i <= n; i++) {
                struct vmbus_channel_offer_channel o = { .header.msgtype = CHANNELMSG_OFFERCHANNEL };
                memcpy(o.if_type, scsi_class, 16);
                memset(o.if_instance, 0x33, 16);
                o.sub_channel_index = i;
                o.child_relid = SUB_RELID + i;
                o.connection_id = 0x2000 | o.child_relid;
                fake_queue_raw(sc->h, &o, sizeof o, HVMSG_VMBUS);
        }
}

static void respond(struct script *sc, const struct logged *q) {
        struct vstor_packet r = { .operation = VSTOR_OPERATION_COMPLETE_IO };
        uint32_t op = q->v.operation;
        if (op == VSTOR_OPERATION_EXECUTE_SRB) {
                if (sc->srb) {
                        sc->srb(sc, q);
                        return;
                }
                r.vm_srb = q->v.vm_srb;
                r.vm_srb.srb_status = SRB_STATUS_SUCCESS;
                host_complete(sc, q->chan, q->p.trans_id, &r);
                return;
        }
        if (op == VSTOR_OPERATION_QUERY_PROTOCOL_VERSION && q->v.version.major_minor != sc->accept_version)
                r.status = STORVSC_STATUS_REVISION_MISMATCH;
        if (op == VSTOR_OPERATION_QUERY_PROPERTIES)
                r.storage_channel_properties = sc->props;
        if (op == sc->fail_op)
                r.status = sc->fail_status;
        host_complete(sc, q->chan, q->p.trans_id, &r);
        if (op == VSTOR_OPERATION_CREATE_SUB_CHANNELS && r.status == 0)
                queue_sub_offers(sc, q->v.sub_channel_count);
}

/* The host side of every channel the client has opened so far. */
static void script_idle(struct fake_host *h) {
        struct script *sc = cur;
        for (; sc->attached < sc->s.n_channels; sc->attached++) {
                const struct vsc_channel *ch = &sc->s.ch[sc->attached];
                ASSERT_OK(vsc_ring_init(&sc->host_out[sc->attached], ch->out.hdr, ch->out.size));
                ASSERT_OK(vsc_ring_init(&sc->host_in[sc->attached], ch->in.hdr, ch->in.size));
        }
        for (unsigned c = 0; c < sc->attached && !sc->silent; c++) {
                struct logged q = { .chan = c };
                while (vsc_ring_read(&sc->host_out[c], q.raw, sizeof q.raw, &q.p, NULL) == 0) {
                        memcpy(&q.v, q.raw + q.p.payload_off, sizeof q.v);
                        ASSERT_LT(sc->n_log, 64u);
                        sc->log[sc->n_log++] = q;
                        respond(sc, &q);
                }
        }
}

static void script_up(struct script *sc) {
        memset(sc, 0, sizeof *sc);
        cur = sc;
        sc->h = fake_host_new();
        struct vmbus_channel_offer_channel *o = &sc->h->offers[sc->h->n_offers++];
        memset(o, 0, sizeof *o);
        o->header.msgtype = CHANNELMSG_OFFERCHANNEL;
        memcpy(o->if_type, scsi_class, 16);
        memset(o->if_instance, 0x33, 16);
        o->child_relid = SCSI_RELID;
        o->connection_id = 0x2000 | SCSI_RELID;
        fake_bus_up(sc->h, &sc->bus, true);
        ASSERT_EQ(vsc_request_offers(&sc->bus), 1);
        sc->h->on_idle = script_idle;
        sc->accept_version = VMSTOR_PROTO_VERSION_WIN10;
        sc->props.max_transfer_bytes = 1u << 20;
        ASSERT_OK(vsc_stor_open(&sc->s, &sc->bus, vsc_find_offer(&sc->bus, scsi_class, 0)));
        script_idle(sc->h);
}

static void script_down(struct script *sc) {
        ASSERT_OK(vsc_stor_close(&sc->s));
        fake_bus_down(sc->h, &sc->bus);
}

static struct vsc_stor_cmd cmd_tur(void) {
        struct vsc_stor_cmd c = { .dir = VSC_STOR_DIR_NONE, .lun = 0, .user = 77 };
        c.cdb_len = vsc_scsi_test_unit_ready(c.cdb);
        return c;
}

TEST(init_follows_linux_6_1) {
        struct script sc;
        script_up(&sc);
        sc.accept_version = VMSTOR_PROTO_VERSION_WIN8; /* the guest falls back twice */
        sc.props.max_transfer_bytes = (256u << 10) + 100;
        sc.props.max_channel_cnt = 3;
        ASSERT_OK(vsc_stor_init(&sc.s));
        ASSERT_EQ(sc.s.version, (uint16_t)VMSTOR_PROTO_VERSION_WIN8);
        ASSERT_EQ(sc.s.max_transfer, 256u << 10); /* rounded down to 4 KiB, as Linux */
        static const uint32_t ops[] = { 7, 9, 9, 9, 10, 8 };
        static const uint16_t versions[] = { 0x0602, 0x0600, 0x0501 };
        ASSERT_EQ(sc.n_log, 6u);
        for (unsigned i = 0; i < 6; i++) {
                const struct logged *q = &sc.log[i];
                ASSERT_EQ(q->v.operation, ops[i]);
                ASSERT_EQ(q->p.type, (uint16_t)VM_PKT_DATA_INBAND);
                ASSERT_EQ(q->p.flags, (uint16_t)VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
                ASSERT_EQ(q->p.trans_id, VMBUS_RQST_INIT);
                ASSERT_EQ(q->p.len - q->p.payload_off, (uint32_t)VSTOR_PACKET_SIZE);
                ASSERT_EQ(q->v.flags, REQUEST_COMPLETION_FLAG);
                if (ops[i] == 9) {
                        ASSERT_EQ(q->v.version.major_minor, versions[i - 1]);
                        ASSERT_EQ(q->v.version.revision, 0);
                }
        }
        /* unmasking clears the channel's SIEF flag, so the next signal
         * interrupts again (the host raises SINT only on 0 -> 1, §3.3) */
        uint8_t *flags = sc.bus.siefp->flags[VMBUS_MESSAGE_SINT];
        flags[0] = 0xff;
        ASSERT_OK(vsc_stor_mask(&sc.s, true));
        ASSERT_EQ(flags[0], 0xff);
        ASSERT_OK(vsc_stor_mask(&sc.s, false));
        ASSERT_EQ(flags[0], (uint8_t)(0xff & ~(1u << SCSI_RELID)));
        /* no multi-channel flag: nothing is asked for, like Linux */
        ASSERT_EQ(vsc_stor_open_subchannels(&sc.s, 2), 0);
        ASSERT_EQ(sc.n_log, 6u);
        script_down(&sc);
}

TEST(init_failures_have_clear_lines) {
        struct script sc;
        script_up(&sc);
        sc.accept_version = 0x0402; /* WIN7: never asked for */
        ASSERT_ERROR(vsc_stor_init(&sc.s), EPROTONOSUPPORT);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&sc.bus), "Obsolete Hyper-V version"));
        ASSERT_FALSE(sc.s.initialized);
        script_down(&sc);

        script_up(&sc);
        sc.fail_op = VSTOR_OPERATION_END_INITIALIZATION;
        sc.fail_status = STORVSC_STATUS_UNSUCCESSFUL;
        ASSERT_ERROR(vsc_stor_init(&sc.s), EIO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&sc.bus), "END_INITIALIZATION: status 0xc0000001"));
        struct vsc_stor_cmd c = cmd_tur();
        ASSERT_ERROR(vsc_stor_submit(&sc.s, 0, &c), ENOTCONN); /* no I/O before the handshake */
        script_down(&sc);

        script_up(&sc);
        sc.silent = true;
        ASSERT_ERROR(vsc_stor_init(&sc.s), ETIMEDOUT);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&sc.bus), "no reply to storvsc BEGIN_INITIALIZATION"));
        sc.silent = false;
        script_down(&sc);
}

/* The READ (5 pages from buf + 512) and the TEST UNIT READY after it, as
 * the responder logged them from the ring. */
static void check_srb_layout(const struct script *sc, unsigned first, const uint8_t *buf) {
        /* the READ: GPA-direct, one range at offset 512 over 5 pages (§6.5) */
        const struct logged *q = &sc->log[first];
        ASSERT_EQ(q->p.type, (uint16_t)VM_PKT_DATA_USING_GPA_DIRECT);
        ASSERT_EQ(q->p.flags, (uint16_t)VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
        ASSERT_EQ(q->p.trans_id, 1ull); /* slot 0 + 1, like blk-mq tag + 1 (§5.7) */
        ASSERT_EQ(q->p.payload_off, 24u + 8 + 5 * 8);
        uint32_t range_cnt, byte_count, byte_offset;
        memcpy(&range_cnt, q->raw + 20, 4);
        memcpy(&byte_count, q->raw + 24, 4);
        memcpy(&byte_offset, q->raw + 28, 4);
        ASSERT_EQ(range_cnt, 1u);
        ASSERT_EQ(byte_count, 16384u);
        ASSERT_EQ(byte_offset, 512u);
        for (unsigned i = 0; i < 5; i++) {
                uint64_t pfn;
                memcpy(&pfn, q->raw + 32 + 8 * i, 8);
                ASSERT_EQ(pfn, ((uint64_t)(uintptr_t)buf >> 12) + i);
        }
        const struct vmscsi_request *srb = &q->v.vm_srb;
        ASSERT_EQ(q->v.operation, (uint32_t)VSTOR_OPERATION_EXECUTE_SRB);
        ASSERT_EQ(q->v.flags, REQUEST_COMPLETION_FLAG);
        ASSERT_EQ(srb->length, (uint16_t)VMSCSI_REQUEST_LEN_V2);
        ASSERT_EQ(srb->path_id, 2);
        ASSERT_EQ(srb->target_id, 1);
        ASSERT_EQ(srb->lun, 3);
        ASSERT_EQ(srb->cdb_length, 16);
        ASSERT_EQ(srb->cdb[0], 0x88);
        ASSERT_EQ(srb->cdb[1], 0x08); /* FUA */
        ASSERT_EQ(srb->sense_info_length, STORVSC_SENSE_BUFFER_SIZE);
        ASSERT_EQ(srb->data_in, READ_TYPE);
        ASSERT_EQ(srb->data_transfer_length, 16384u);
        ASSERT_EQ(srb->srb_flags, SRB_FLAGS_DISABLE_SYNCH_TRANSFER | SRB_FLAGS_QUEUE_ACTION_ENABLE |
                                          SRB_FLAGS_NO_QUEUE_FREEZE | SRB_FLAGS_DATA_IN);
        ASSERT_EQ(srb->queue_tag, SP_UNTAGGED);
        ASSERT_EQ(srb->queue_action, SRB_SIMPLE_TAG_REQUEST);
        ASSERT_EQ(srb->time_out_value, 60u);
        /* no data: an inband packet, UNKNOWN_TYPE, no direction flag */
        q = &sc->log[first + 1];
        ASSERT_EQ(q->p.type, (uint16_t)VM_PKT_DATA_INBAND);
        ASSERT_EQ(q->p.payload_off, 16u);
        ASSERT_EQ(q->v.vm_srb.data_in, UNKNOWN_TYPE);
        ASSERT_EQ(q->v.vm_srb.data_transfer_length, 0u);
        ASSERT_EQ(q->v.vm_srb.srb_flags & (SRB_FLAGS_DATA_IN | SRB_FLAGS_DATA_OUT), 0u);
}

TEST(srb_packets_as_storvsc_sends_them) {
        struct script sc;
        script_up(&sc);
        ASSERT_OK(vsc_stor_init(&sc.s));
        unsigned first = sc.n_log;
        sc.h->cpl = 3; /* the steady state: doorbell port, not the hypercall page */
        uint8_t *buf = fake_alloc(sc.h, 6);
        struct vsc_stor_cmd rd = { .dir = VSC_STOR_DIR_IN, .buf = buf + 512, .len = 16384, .lun = 3,
                                   .target_id = 1, .path_id = 2, .user = 5 };
        rd.cdb_len = vsc_scsi_rw(rd.cdb, false, 0x123456789ull, 32, true, false);
        ASSERT_EQ(rd.cdb_len, 16); /* the LBA needs READ(16) */
        struct vsc_stor_cmd tur = cmd_tur();
        ASSERT_OK(vsc_stor_submit(&sc.s, 0, &rd));
        ASSERT_OK(vsc_stor_submit(&sc.s, 0, &tur));
        ASSERT_EQ(vsc_stor_inflight(&sc.s), 2u);
        unsigned bells = sc.h->n_doorbells;
        vsc_stor_flush(&sc.s);
        ASSERT_EQ(sc.h->n_doorbells, bells + 1); /* one doorbell for the batch (§5.5) */
        struct vsc_stor_result res[4];
        int n = 0;
        for (int tries = 0; n < 2 && tries < 10; tries++) {
                script_idle(sc.h);
                int k = vsc_stor_poll(&sc.s, res + n, 4);
                ASSERT_GE(k, 0);
                n += k;
        }
        ASSERT_EQ(n, 2);
        ASSERT_EQ(res[0].user, 5ull);
        ASSERT_TRUE(vsc_stor_result_ok(&res[0]));
        ASSERT_EQ(res[0].data_len, 16384u);
        ASSERT_EQ(res[1].user, 77ull);
        check_srb_layout(&sc, first, buf);
        /* commands the client refuses to send */
        struct vsc_stor_cmd bad = rd;
        bad.len = (1u << 20) + 4096;
        ASSERT_ERROR(vsc_stor_submit(&sc.s, 0, &bad), EINVAL);
        bad = rd;
        bad.dir = VSC_STOR_DIR_NONE;
        ASSERT_ERROR(vsc_stor_submit(&sc.s, 0, &bad), EINVAL);
        ASSERT_ERROR(vsc_stor_submit(&sc.s, 1, &tur), EINVAL); /* no such channel */
        sc.h->cpl = 0;
        fake_free(sc.h, buf, 6);
        script_down(&sc);
}

/* ---- malformed replies ---- */

static int bad_kind;

static void bad_reply(struct script *sc, const struct logged *q) {
        struct vstor_packet r = { .operation = VSTOR_OPERATION_COMPLETE_IO };
        r.vm_srb = q->v.vm_srb;
        r.vm_srb.srb_status = SRB_STATUS_SUCCESS;
        uint8_t big[100] = { 1 };
        switch (bad_kind) {
        case 0: host_complete(sc, 0, 99, &r); break;                              /* never sent */
        case 1: host_send(sc, 0, VM_PKT_DATA_INBAND, q->p.trans_id, &r, sizeof r); break;
        case 2: host_send(sc, 0, VM_PKT_COMP, q->p.trans_id, &r, 48); break;      /* pre-WIN8 size */
        case 3: r.operation = VSTOR_OPERATION_EXECUTE_SRB; host_complete(sc, 0, q->p.trans_id, &r); break;
        case 4: r.vm_srb.data_transfer_length = q->v.vm_srb.data_transfer_length + 512;
                host_complete(sc, 0, q->p.trans_id, &r); break;
        case 5: host_send(sc, 0, VM_PKT_COMP, q->p.trans_id, big, sizeof big); break; /* > 80 bytes */
        case 6: host_send(sc, 0, VM_PKT_DATA_INBAND, 0, &r, sizeof r); break;     /* id 0, COMPLETE_IO */
        default: break;
        }
}

TEST(malformed_replies_are_refused) {
        static const char *const why[] = {
                "trans_id 0x63, which is not outstanding", "not a completion packet",
                "shorter than a 64-byte vstor_packet",     "operation is not COMPLETE_IO",
                "data_transfer_length larger",             "80-byte maximum",
                "not ENUMERATE_BUS or REMOVE_DEVICE",
        };
        struct script sc;
        script_up(&sc);
        ASSERT_OK(vsc_stor_init(&sc.s));
        sc.srb = bad_reply;
        uint8_t *buf = fake_alloc(sc.h, 1);
        struct vsc_stor_result res;
        for (bad_kind = 0; bad_kind < 7; bad_kind++) {
                struct vsc_stor_cmd rd = { .dir = VSC_STOR_DIR_IN, .buf = buf, .len = 512 };
                rd.cdb_len = vsc_scsi_rw(rd.cdb, false, 0, 1, false, false);
                unsigned before = sc.s.stats.bad_packets;
                ASSERT_ERROR(vsc_stor_exec(&sc.s, &rd, &res), EPROTO);
                ASSERT_NOT_NULL(strstr(vsc_bus_error(&sc.bus), why[bad_kind]));
                ASSERT_EQ(sc.s.stats.bad_packets, before + 1);
                /* still outstanding, unless the bad completion was its own */
                ASSERT_EQ(vsc_stor_inflight(&sc.s), bad_kind == 4 ? 0u : 1u);
                if (bad_kind != 4) { /* answered properly now: the client carries on */
                        const struct logged *q = &sc.log[sc.n_log - 1];
                        struct vstor_packet r = { .operation = VSTOR_OPERATION_COMPLETE_IO };
                        r.vm_srb = q->v.vm_srb;
                        r.vm_srb.srb_status = SRB_STATUS_SUCCESS;
                        host_complete(&sc, 0, q->p.trans_id, &r);
                        ASSERT_EQ(vsc_stor_poll(&sc.s, &res, 1), 1);
                        ASSERT_TRUE(vsc_stor_result_ok(&res));
                }
        }
        /* ENUMERATE_BUS with id 0 is fine: noted, then the real completion */
        sc.srb = NULL;
        struct vstor_packet e = { .operation = VSTOR_OPERATION_ENUMERATE_BUS };
        host_send(&sc, 0, VM_PKT_DATA_INBAND, 0, &e, sizeof e);
        struct vsc_stor_cmd tur = cmd_tur();
        ASSERT_OK(vsc_stor_exec(&sc.s, &tur, &res));
        ASSERT_TRUE(sc.s.rescan);
        ASSERT_EQ(sc.s.stats.unsolicited, 1ull);
        ASSERT_EQ(res.user, 77ull);
        fake_free(sc.h, buf, 1);
        script_down(&sc);
}

static uint8_t sense_len_sent;
static bool sense_autosense;

static void check_condition(struct script *sc, const struct logged *q) {
        struct vstor_packet r = { .operation = VSTOR_OPERATION_COMPLETE_IO, .status = STORVSC_STATUS_IO_DEVICE_ERROR };
        r.vm_srb = q->v.vm_srb;
        r.vm_srb.srb_status = SRB_STATUS_ERROR | (sense_autosense ? SRB_STATUS_AUTOSENSE_VALID : 0);
        r.vm_srb.scsi_status = 0x02;
        r.vm_srb.data_transfer_length = 0;
        r.vm_srb.sense_info_length = sense_len_sent;
        memset(r.vm_srb.sense_data, 0xee, sizeof r.vm_srb.sense_data);
        r.vm_srb.sense_data[0] = 0x70;
        r.vm_srb.sense_data[2] = 0x05;
        r.vm_srb.sense_data[12] = 0x24;
        r.vm_srb.sense_data[13] = 0x00;
        host_complete(sc, 0, q->p.trans_id, &r);
}

TEST(check_condition_and_sense) {
        struct script sc;
        script_up(&sc);
        ASSERT_OK(vsc_stor_init(&sc.s));
        sc.srb = check_condition;
        struct vsc_stor_cmd tur = cmd_tur();
        struct vsc_stor_result res;
        struct vsc_scsi_sense sense;
        sense_autosense = true;
        sense_len_sent = 18;
        ASSERT_OK(vsc_stor_exec(&sc.s, &tur, &res));
        ASSERT_FALSE(vsc_stor_result_ok(&res));
        ASSERT_EQ(res.status, STORVSC_STATUS_IO_DEVICE_ERROR);
        ASSERT_EQ(res.sense_len, 18);
        ASSERT_OK(vsc_scsi_parse_sense(res.sense, res.sense_len, &sense));
        ASSERT_EQ(sense.key, 5);
        ASSERT_EQ(sense.asc, 0x24);
        sense_len_sent = 40; /* clamped to the 20-byte buffer, as Linux */
        ASSERT_OK(vsc_stor_exec(&sc.s, &tur, &res));
        ASSERT_EQ(res.sense_len, STORVSC_SENSE_BUFFER_SIZE);
        sense_autosense = false; /* no AUTOSENSE_VALID: no sense at all */
        ASSERT_OK(vsc_stor_exec(&sc.s, &tur, &res));
        ASSERT_EQ(res.sense_len, 0);
        ASSERT_EQ(res.srb_status, SRB_STATUS_ERROR);
        script_down(&sc);
}

static void wrong_channel(struct script *sc, const struct logged *q) {
        struct vstor_packet r = { .operation = VSTOR_OPERATION_COMPLETE_IO };
        r.vm_srb = q->v.vm_srb;
        r.vm_srb.srb_status = SRB_STATUS_SUCCESS;
        host_complete(sc, q->chan == 1 ? 2 : q->chan, q->p.trans_id, &r);
}

TEST(sub_channels_on_request) {
        struct script sc;
        script_up(&sc);
        sc.props.flags = STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL;
        sc.props.max_channel_cnt = 2;
        ASSERT_OK(vsc_stor_init(&sc.s));
        unsigned before = sc.n_log;
        ASSERT_EQ(vsc_stor_open_subchannels(&sc.s, 0), 0); /* 0 wanted: nothing sent */
        ASSERT_EQ(sc.n_log, before);
        ASSERT_EQ(vsc_stor_open_subchannels(&sc.s, 5), 2); /* capped by max_channel_cnt */
        ASSERT_EQ(sc.s.n_channels, 3u);
        const struct logged *q = &sc.log[before];
        ASSERT_EQ(q->v.operation, (uint32_t)VSTOR_OPERATION_CREATE_SUB_CHANNELS);
        ASSERT_EQ(q->v.sub_channel_count, 2);
        ASSERT_EQ(q->p.trans_id, VMBUS_RQST_INIT);
        ASSERT_EQ(sc.s.ch[1].relid, SUB_RELID + 1);
        ASSERT_EQ(sc.s.ch[2].relid, SUB_RELID + 2);
        /* SRBs go out on the channel asked for and come back there */
        struct vsc_stor_cmd tur = cmd_tur();
        struct vsc_stor_result res[2];
        ASSERT_OK(vsc_stor_submit(&sc.s, 2, &tur));
        vsc_stor_flush(&sc.s);
        script_idle(sc.h);
        ASSERT_EQ(vsc_stor_poll(&sc.s, res, 2), 1);
        ASSERT_EQ(res[0].channel, 2);
        ASSERT_EQ(sc.log[sc.n_log - 1].chan, 2u);
        /* a good completion followed by a bad packet: the good one first */
        sc.srb = NULL;
        ASSERT_OK(vsc_stor_submit(&sc.s, 0, &tur));
        vsc_stor_flush(&sc.s);
        script_idle(sc.h);
        host_complete(&sc, 0, 200, &sc.log[sc.n_log - 1].v); /* never sent */
        ASSERT_EQ(vsc_stor_poll(&sc.s, res, 2), 1);
        ASSERT_EQ(res[0].user, 77ull);
        ASSERT_ERROR(vsc_stor_poll(&sc.s, res, 2), EPROTO);
        ASSERT_EQ(vsc_stor_poll(&sc.s, res, 2), 0);
        /* a completion on another channel than the request's (§6.7) */
        sc.srb = wrong_channel;
        ASSERT_OK(vsc_stor_submit(&sc.s, 1, &tur));
        vsc_stor_flush(&sc.s);
        script_idle(sc.h);
        ASSERT_ERROR(vsc_stor_poll(&sc.s, res, 2), EPROTO);
        ASSERT_NOT_NULL(strstr(vsc_bus_error(&sc.bus), "sent on channel 1 completed on channel 2"));
        script_down(&sc);
}

TEST(pattern_is_the_documented_text) {
        uint8_t rec[128];
        uint64_t bad = 0;
        vsc_stor_pattern_fill(rec, sizeof rec, 0x2a, 1, 3, 4096);
        static const char want[] = "VSCDISK s=0000002a c=1 l=003 o=000000000004096.................\n"
                                   "VSCDISK s=0000002a c=1 l=003 o=000000000004160.................\n";
        ASSERT_MEMEQ(rec, want, 128);
        ASSERT_OK(vsc_stor_pattern_check(rec, sizeof rec, 0x2a, 1, 3, 4096, &bad));
        ASSERT_ERROR(vsc_stor_pattern_check(rec, sizeof rec, 0x2a, 1, 3, 4160, &bad), EBADMSG);
        ASSERT_EQ(bad, 4160ull);
        ASSERT_ERROR(vsc_stor_pattern_check(rec, sizeof rec, 0x2b, 1, 3, 4096, &bad), EBADMSG); /* other seed */
        ASSERT_ERROR(vsc_stor_pattern_check(rec, sizeof rec, 0x2a, 0, 3, 4096, &bad), EBADMSG); /* other disk */
        rec[127] = 'x';
        ASSERT_ERROR(vsc_stor_pattern_check(rec, sizeof rec, 0x2a, 1, 3, 4096, &bad), EBADMSG);
        ASSERT_EQ(bad, 4160ull);
}

TEST(scsi_cdbs) {
        uint8_t cdb[16];
        ASSERT_EQ(vsc_scsi_rw(cdb, true, 0xffffffffull, 0xffff, false, false), 10);
        ASSERT_EQ(cdb[0], 0x2a);
        ASSERT_EQ(vsc_scsi_rw(cdb, true, 0x100000000ull, 1, false, false), 16);
        ASSERT_EQ(vsc_scsi_rw(cdb, false, 0, 0x10000, false, false), 16); /* too many blocks for (10) */
        ASSERT_EQ(cdb[0], 0x88);
        ASSERT_EQ(cdb[11], 0x01); /* 0x00010000 blocks, big-endian at 10..13 */
        uint8_t param[VSC_SCSI_UNMAP_PARAM_LEN];
        ASSERT_EQ(vsc_scsi_unmap(cdb, param, 0x10, 8), 10);
        ASSERT_EQ(cdb[8], VSC_SCSI_UNMAP_PARAM_LEN);
        ASSERT_EQ(param[1], 22);
        ASSERT_EQ(param[3], 16);
        ASSERT_EQ(param[15], 0x10);
        ASSERT_EQ(param[19], 8);
}

TEST(scsi_report_luns_and_capacity) {
        uint8_t d[64];
        /* REPORT LUNS: peripheral and flat addressing; duplicates refused */
        uint16_t luns[4];
        unsigned n;
        memset(d, 0, sizeof d);
        d[3] = 24;
        d[8 + 1] = 0;
        d[16 + 1] = 7;
        d[24] = 0x40;
        d[24 + 1] = 200;
        ASSERT_OK(vsc_scsi_parse_report_luns(d, 32, luns, 4, &n));
        ASSERT_EQ(n, 3u);
        ASSERT_EQ(luns[1], 7);
        ASSERT_EQ(luns[2], 200);
        ASSERT_OK(vsc_scsi_parse_report_luns(d, 24, luns, 4, &n)); /* truncated: what came */
        ASSERT_EQ(n, 2u);
        d[24 + 1] = 7;
        d[24] = 0;
        ASSERT_ERROR(vsc_scsi_parse_report_luns(d, 32, luns, 4, &n), EBADMSG);
        d[3] = 23;
        ASSERT_ERROR(vsc_scsi_parse_report_luns(d, 32, luns, 4, &n), EBADMSG);
        /* capacity */
        struct vsc_scsi_capacity cap;
        memset(d, 0, sizeof d);
        d[7] = 0xff;                 /* last LBA 255 */
        d[10] = 0x10;                /* 4096-byte blocks */
        d[13] = 3;
        d[14] = 0xc0;
        ASSERT_OK(vsc_scsi_parse_capacity16(d, 32, &cap));
        ASSERT_EQ(cap.blocks, 256ull);
        ASSERT_EQ(cap.block_size, 4096u);
        ASSERT_EQ(cap.phys_exponent, 3);
        ASSERT_TRUE(cap.lbpme && cap.lbprz);
        ASSERT_ERROR(vsc_scsi_parse_capacity16(d, 31, &cap), EBADMSG);
        d[10] = 0x11; /* 4352: not a power of two */
        ASSERT_ERROR(vsc_scsi_parse_capacity16(d, 32, &cap), EBADMSG);
        memset(d, 0xff, 4);
        d[4] = 0, d[5] = 0, d[6] = 2, d[7] = 0;
        ASSERT_OK(vsc_scsi_parse_capacity10(d, 8, &cap));
        ASSERT_EQ(cap.blocks, 0x100000000ull);
}

TEST(scsi_sense_inquiry_mode) {
        /* sense: fixed and descriptor format */
        struct vsc_scsi_sense s;
        uint8_t fixed[18] = { 0x70, 0, 0x05, [12] = 0x21, [13] = 0x01 }, desc[8] = { 0x72, 0x07, 0x27, 0x00 };
        ASSERT_OK(vsc_scsi_parse_sense(fixed, 18, &s));
        ASSERT_EQ(s.key, 5);
        ASSERT_EQ(s.asc, 0x21);
        ASSERT_EQ(s.ascq, 1);
        ASSERT_ERROR(vsc_scsi_parse_sense(fixed, 13, &s), EBADMSG);
        ASSERT_OK(vsc_scsi_parse_sense(desc, 4, &s));
        ASSERT_EQ(s.key, 7);
        ASSERT_EQ(s.asc, 0x27);
        /* INQUIRY: fields trimmed, spaces never reach a report value */
        struct vsc_scsi_inquiry inq;
        uint8_t std[36] = { 0x00, 0, 0x06, 0x02, 31, 0, 0, 0x02 };
        memcpy(std + 8, "Msft    Virtual Disk    1.0 ", 28);
        ASSERT_OK(vsc_scsi_parse_inquiry(std, 36, &inq));
        ASSERT_STREQ(inq.vendor, "Msft");
        ASSERT_STREQ(inq.product, "Virtual_Disk");
        ASSERT_STREQ(inq.revision, "1.0");
        ASSERT_TRUE(inq.cmdque);
        ASSERT_ERROR(vsc_scsi_parse_inquiry(std, 35, &inq), EBADMSG);
        bool wp, fua;
        uint8_t hdr[4] = { 3, 0, 0x90, 0 };
        ASSERT_OK(vsc_scsi_parse_mode6_header(hdr, 4, &wp, &fua));
        ASSERT_TRUE(wp && fua);
        hdr[0] = 2;
        ASSERT_ERROR(vsc_scsi_parse_mode6_header(hdr, 4, &wp, &fua), EBADMSG);
}

TEST_MAIN();
