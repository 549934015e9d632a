// SPDX-License-Identifier: MIT
/* NVSP parsing, version negotiation and completion building
 * (docs/hyperv-guest-interface.md §7.2, §7.3). */
#include <errno.h>
#include <string.h>

#include "netvsp/nvsp.h"

/* Newest first, as the guest tries them (§7.3). */
static const uint32_t nvsp_versions[] = {
        NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
        NVSP_PROTOCOL_VERSION_4,  NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};

bool nvsp_version_supported(uint32_t version) {
        for (size_t i = 0; i < sizeof nvsp_versions / sizeof nvsp_versions[0]; i++)
                if (nvsp_versions[i] == version)
                        return true;
        return false;
}

uint32_t nvsp_negotiate(uint32_t min_ver, uint32_t max_ver) {
        for (size_t i = 0; i < sizeof nvsp_versions / sizeof nvsp_versions[0]; i++)
                if (nvsp_versions[i] >= min_ver && nvsp_versions[i] <= max_ver)
                        return nvsp_versions[i];
        return 0;
}

/* Bytes of the message a type needs (type word included) and the version
 * that introduced it; 0 for types we do not serve. */
static size_t type_min_len(uint32_t type, uint32_t *since) {
        *since = 0;
        switch (type) {
        case NVSP_MSG_TYPE_INIT:
                return 12;
        case NVSP_MSG1_TYPE_SEND_NDIS_VER:
                return 12;
        case NVSP_MSG1_TYPE_SEND_RECV_BUF:
        case NVSP_MSG1_TYPE_SEND_SEND_BUF:
                return 10;
        case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
        case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
                return 6;
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
                return 16;
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE:
                return 8;
        case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
                *since = NVSP_PROTOCOL_VERSION_2;
                return 20;
        case NVSP_MSG4_TYPE_SWITCH_DATA_PATH:
                *since = NVSP_PROTOCOL_VERSION_4;
                return 8;
        case NVSP_MSG5_TYPE_SUBCHANNEL:
                *since = NVSP_PROTOCOL_VERSION_5;
                return 12;
        default:
                return 0;
        }
}

static uint32_t get32(const uint8_t *p, size_t off) {
        uint32_t v;
        memcpy(&v, p + off, sizeof v);
        return v;
}
static uint16_t get16(const uint8_t *p, size_t off) {
        uint16_t v;
        memcpy(&v, p + off, sizeof v);
        return v;
}

int nvsp_parse(const void *buf, size_t len, uint32_t version, struct nvsp_request *out) {
        const uint8_t *p = buf;
        uint32_t since;
        size_t need;

        if (!buf || !out)
                return -EINVAL;
        *out = (struct nvsp_request){ 0 };
        if (len < 4)
                return -EBADMSG;
        out->type = get32(p, 0);
        need = type_min_len(out->type, &since);
        if (need == 0)
                return -EOPNOTSUPP;
        if (len < need)
                return -EBADMSG;
        /* Everything but INIT needs a negotiated version at least as new. */
        if (out->type != NVSP_MSG_TYPE_INIT && (version == 0 || version < since))
                return -EOPNOTSUPP;

        switch (out->type) {
        case NVSP_MSG_TYPE_INIT:
                out->init.min_ver = get32(p, 4);
                out->init.max_ver = get32(p, 8);
                return 0;
        case NVSP_MSG1_TYPE_SEND_NDIS_VER:
                out->ndis_ver.major = get32(p, 4);
                out->ndis_ver.minor = get32(p, 8);
                return 0;
        case NVSP_MSG1_TYPE_SEND_RECV_BUF:
        case NVSP_MSG1_TYPE_SEND_SEND_BUF:
                out->buf.gpadl = get32(p, 4);
                out->buf.id = get16(p, 8);
                return 0;
        case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
        case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
                out->revoke.id = get16(p, 4);
                return 0;
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
                out->rndis_pkt.channel_type = get32(p, 4);
                out->rndis_pkt.section_index = get32(p, 8);
                out->rndis_pkt.section_size = get32(p, 12);
                return out->rndis_pkt.channel_type <= NVSP_RNDIS_CHANNEL_CONTROL ? 0 : -EBADMSG;
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE:
                out->rndis_pkt_complete.status = get32(p, 4);
                return 0;
        case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
                out->ndis_config.mtu = get32(p, 4);
                memcpy(&out->ndis_config.capability, p + 12, sizeof out->ndis_config.capability);
                return 0;
        case NVSP_MSG4_TYPE_SWITCH_DATA_PATH:
                out->switch_dp.active_datapath = get32(p, 4);
                return 0;
        default: /* NVSP_MSG5_TYPE_SUBCHANNEL */
                out->subchannel.op = get32(p, 4);
                out->subchannel.num = get32(p, 8);
                return 0;
        }
}

static size_t build(struct nvsp_message *m, uint32_t type) {
        memset(m, 0, sizeof *m);
        m->hdr.msg_type = type;
        return NVSP_MESSAGE_SIZE;
}

size_t nvsp_build_init_complete(struct nvsp_message *m, uint32_t version, uint32_t status) {
        size_t n = build(m, NVSP_MSG_TYPE_INIT_COMPLETE);
        m->msg.init_complete.negotiated_protocol_ver = version;
        m->msg.init_complete.status = status;
        return n;
}

/* One section starting at offset 0 (§7.3 step 5: the guest requires
 * num_sections = 1 and offset 0). */
size_t nvsp_build_recv_buf_complete(struct nvsp_message *m, uint32_t status, uint32_t sub_alloc_size,
                                    uint32_t num_sub_allocs) {
        size_t n = build(m, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE);
        m->msg.send_recv_buf_complete.status = status;
        if (status == NVSP_STAT_SUCCESS) {
                struct nvsp_1_receive_buffer_section *s = &m->msg.send_recv_buf_complete.sections[0];
                m->msg.send_recv_buf_complete.num_sections = 1;
                s->offset = 0;
                s->sub_alloc_size = sub_alloc_size;
                s->num_sub_allocs = num_sub_allocs;
                s->end_offset = sub_alloc_size * num_sub_allocs; /* caller checked: fits the buffer */
        }
        return n;
}

size_t nvsp_build_send_buf_complete(struct nvsp_message *m, uint32_t status, uint32_t section_size) {
        size_t n = build(m, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE);
        m->msg.send_send_buf_complete.status = status;
        m->msg.send_send_buf_complete.section_size = status == NVSP_STAT_SUCCESS ? section_size : 0;
        return n;
}

size_t nvsp_build_rndis_pkt_complete(struct nvsp_message *m, uint32_t status) {
        build(m, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
        m->msg.send_rndis_pkt_complete.status = status;
        return NVSP_RNDIS_PKT_COMPLETE_SIZE;
}

size_t nvsp_build_subchannel_complete(struct nvsp_message *m, uint32_t status, uint32_t num) {
        size_t n = build(m, NVSP_MSG5_TYPE_SUBCHANNEL);
        m->msg.subchn_comp.status = status;
        m->msg.subchn_comp.num_subchannels = num;
        return n;
}

size_t nvsp_build_rndis_pkt(struct nvsp_message *m, uint32_t channel_type) {
        build(m, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
        m->msg.send_rndis_pkt.channel_type = channel_type;
        m->msg.send_rndis_pkt.send_buf_section_index = NVSP_INVALID_SECTION_INDEX;
        m->msg.send_rndis_pkt.send_buf_section_size = 0;
        return 16;
}

const char *nvsp_msg_type_to_string(uint32_t type) {
        switch (type) {
        case NVSP_MSG_TYPE_INIT: return "INIT";
        case NVSP_MSG_TYPE_INIT_COMPLETE: return "INIT_COMPLETE";
        case NVSP_MSG1_TYPE_SEND_NDIS_VER: return "SEND_NDIS_VER";
        case NVSP_MSG1_TYPE_SEND_RECV_BUF: return "SEND_RECV_BUF";
        case NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE: return "SEND_RECV_BUF_COMPLETE";
        case NVSP_MSG1_TYPE_REVOKE_RECV_BUF: return "REVOKE_RECV_BUF";
        case NVSP_MSG1_TYPE_SEND_SEND_BUF: return "SEND_SEND_BUF";
        case NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE: return "SEND_SEND_BUF_COMPLETE";
        case NVSP_MSG1_TYPE_REVOKE_SEND_BUF: return "REVOKE_SEND_BUF";
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT: return "SEND_RNDIS_PKT";
        case NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE: return "SEND_RNDIS_PKT_COMPLETE";
        case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG: return "SEND_NDIS_CONFIG";
        case NVSP_MSG4_TYPE_SWITCH_DATA_PATH: return "SWITCH_DATA_PATH";
        case NVSP_MSG5_TYPE_SUBCHANNEL: return "SUBCHANNEL";
        default: return "unknown";
        }
}
