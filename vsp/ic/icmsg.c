// SPDX-License-Identifier: MIT
/* IC framing (docs/hyperv-guest-interface.md §8.1, §8.2): building the
 * host's requests and parsing the guest's answers. Pure functions: no I/O,
 * no state; fuzzed by tests/fuzz/fuzz-icmsg.c. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "internal.h"

/* OpenVMM offers frameworks 1.0 and 3.0; Linux prefers 3.0 (§8.2). */
const struct ic_version ic_framework_versions[2] = { { 3, 0 }, { 1, 0 } };

size_t icmsg_build(uint8_t *buf, size_t cap, uint16_t type, struct ic_version fw, struct ic_version msg,
                   uint8_t txid, const void *body, size_t body_len) {
        size_t total = ICMSG_HDR + body_len;
        if (total > cap || body_len > UINT16_MAX)
                return 0;
        struct vmbuspipe_hdr pipe = { .flags = IC_PIPE_TYPE_DATA, .msgsize = (uint32_t)(total - sizeof pipe) };
        struct icmsg_hdr h = {
                .icverframe = fw, .icmsgtype = type, .icvermsg = msg, .icmsgsize = (uint16_t)body_len,
                .status = HV_S_OK, .ictransaction_id = txid,
                .icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST,
        };
        memcpy(buf, &pipe, sizeof pipe);
        memcpy(buf + sizeof pipe, &h, sizeof h);
        if (body_len)
                memcpy(buf + ICMSG_HDR, body, body_len);
        return total;
}

size_t ic_negotiate_build(uint8_t *buf, size_t cap, const struct ic_version *msg_versions, size_t n_msg,
                          uint8_t txid) {
        struct {
                struct icmsg_negotiate n;
                struct ic_version v[ARRAY_SIZE(ic_framework_versions) + IC_MAX_VERSIONS];
        } __attribute__((packed)) body;
        size_t nfw = ARRAY_SIZE(ic_framework_versions);
        if (n_msg == 0 || n_msg > IC_MAX_VERSIONS)
                return 0;
        body.n = (struct icmsg_negotiate){ .icframe_vercnt = (uint16_t)nfw, .icmsg_vercnt = (uint16_t)n_msg };
        memcpy(body.v, ic_framework_versions, sizeof ic_framework_versions);
        memcpy(body.v + nfw, msg_versions, n_msg * sizeof *msg_versions);
        size_t len = sizeof body.n + (nfw + n_msg) * sizeof(struct ic_version);
        return icmsg_build(buf, cap, ICMSGTYPE_NEGOTIATE, ic_framework_versions[1], (struct ic_version){ 1, 0 },
                           txid, &body, len);
}

/* A guest answer: at least the headers, flagged as a response; body_len is
 * what the header claims, clamped to what arrived. */
int icmsg_parse(const uint8_t *pkt, size_t len, struct icmsg_hdr *hdr, const uint8_t **body, size_t *body_len) {
        if (len < ICMSG_HDR)
                return -EBADMSG;
        memcpy(hdr, pkt + sizeof(struct vmbuspipe_hdr), sizeof *hdr);
        if (!(hdr->icflags & ICMSGHDRFLAG_RESPONSE))
                return -EPROTO;
        *body = pkt + ICMSG_HDR;
        *body_len = MIN((size_t)hdr->icmsgsize, len - ICMSG_HDR);
        return 0;
}

static bool version_listed(struct ic_version v, const struct ic_version *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (list[i].major == v.major && list[i].minor == v.minor)
                        return true;
        return false;
}

/* The guest answers with one framework and one message version it chose
 * from our lists, or with zero counts when nothing matched (§8.2). */
int ic_negotiate_parse(const uint8_t *body, size_t len, const struct ic_version *msg_versions, size_t n_msg,
                       struct ic_version *fw, struct ic_version *msg) {
        struct icmsg_negotiate n;
        if (len < sizeof n)
                return -EBADMSG;
        memcpy(&n, body, sizeof n);
        if (n.icframe_vercnt == 0 || n.icmsg_vercnt == 0)
                return -ENOTSUP;
        if (n.icframe_vercnt != 1 || n.icmsg_vercnt != 1 || len < sizeof n + 2 * sizeof(struct ic_version))
                return -EBADMSG;
        memcpy(fw, body + sizeof n, sizeof *fw);
        memcpy(msg, body + sizeof n + sizeof *fw, sizeof *msg);
        if (!version_listed(*fw, ic_framework_versions, ARRAY_SIZE(ic_framework_versions)) ||
            !version_listed(*msg, msg_versions, n_msg))
                return -EPROTO;
        return 0;
}
