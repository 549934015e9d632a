// SPDX-License-Identifier: MIT
/* The backup (VSS) integration service (vsp/ic/vss.c, hv/ic.h): offered
 * with its class, negotiated at 5.0 as Linux's hv_utils does, FREEZE and
 * THAW sent as a 12-byte hv_vss_msg and the guest's in-place answer
 * reported with the operation asked (whatever the guest wrote back) and
 * its status; one request at a time, only
 * those operations, nothing before the guest negotiated; an unanswered
 * request is reported failed. */
#include <string.h>
#include <unistd.h>

#include "test-icvsp-harness.h"

static const uint8_t vss_class[16] = HV_VSS_GUID;

static bool vss_answered(struct owner *o) {
        return o->vss_answers > 0;
}

static void env_vss(struct env *e, uint32_t timeout_ms) {
        struct icvsp_config c = env_config();
        c.vss = true;
        c.request_timeout_ms = timeout_ms;
        env_init_cfg(e, &c);
}

static void negotiated(struct env *e, struct vmbus_sim_channel *ch) {
        ASSERT_ERROR(icvsp_request_vss(e->ic, VSS_OP_FREEZE), ENOTCONN); /* not opened yet */
        open_and_negotiate(e, vss_class, (struct ic_version){ 5, 0 }, ch);
        for (int i = 0; i < 5000 && !icvsp_vss_ready(e->ic); i++)
                usleep(1000);
        ASSERT_TRUE(icvsp_vss_ready(e->ic));
}

/* The host's request: a VSS message naming op, as long as Linux wants. */
static void expect_request(struct env *e, struct vmbus_sim_channel *ch, uint8_t op) {
        struct icmsg_hdr h;
        size_t len = host_request(e, ch, &h);
        ASSERT_EQ(h.icmsgtype, ICMSGTYPE_VSS);
        ASSERT_GE(len, (size_t)ICMSG_HDR + sizeof(struct hv_vss_msg)); /* hv_vss_onchannelcallback */
        struct hv_vss_msg m;
        memcpy(&m, e->payload + ICMSG_HDR, sizeof m);
        ASSERT_EQ(m.operation, op);
}

/* The owner heard one answer: op and status; counted off again. */
static void expect_answer(struct env *e, uint8_t op, uint32_t status) {
        ASSERT_TRUE(wait_owner(&e->o, vss_answered, 5000));
        pthread_mutex_lock(&e->o.lock);
        ASSERT_EQ(e->o.vss_answers, 1u);
        ASSERT_EQ(e->o.vss_op, op);
        ASSERT_EQ(e->o.vss_status, status);
        e->o.vss_answers = 0;
        pthread_mutex_unlock(&e->o.lock);
}

TEST(freeze_and_thaw_are_answered_with_their_operation) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_vss(&e, 0);
        ASSERT_NOT_NULL(find_offer(&e, vss_class));
        negotiated(&e, &ch);
        ASSERT_OK(icvsp_request_vss(e.ic, VSS_OP_FREEZE));
        ASSERT_ERROR(icvsp_request_vss(e.ic, VSS_OP_THAW), EBUSY); /* one at a time */
        expect_request(&e, &ch, VSS_OP_FREEZE);
        guest_answer(&e, &ch, HV_S_OK);
        expect_answer(&e, VSS_OP_FREEZE, HV_S_OK);
        ASSERT_OK(icvsp_request_vss(e.ic, VSS_OP_THAW));
        expect_request(&e, &ch, VSS_OP_THAW);
        guest_answer(&e, &ch, HV_E_FAIL); /* as Linux without hv_vss_daemon */
        expect_answer(&e, VSS_OP_THAW, HV_E_FAIL);
        env_free(&e);
}

TEST(other_operations_and_unconfigured_are_refused) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_init(&e, true, false);
        ASSERT_NULL(find_offer(&e, vss_class));
        ASSERT_ERROR(icvsp_request_vss(e.ic, VSS_OP_FREEZE), ENOTSUP);
        env_free(&e);
        env_vss(&e, 0);
        negotiated(&e, &ch);
        ASSERT_ERROR(icvsp_request_vss(e.ic, VSS_OP_CREATE), EINVAL);
        ASSERT_ERROR(icvsp_request_vss(e.ic, 200), EINVAL);
        no_request(&e, &ch, 100);
        env_free(&e);
}

/* A guest that never answers: after the timeout the owner hears E_FAIL
 * for the operation it asked, and the next request may go. */
/* The answer belongs to the request, not to what the guest wrote into it:
 * a FREEZE answered with THAW (or nonsense, or a body cut to nothing) in
 * its operation field is reported as the FREEZE's answer, so the
 * checkpoint waiting for the freeze hears it (it ignores a "thaw"). */
TEST(the_answer_names_the_operation_asked_whatever_the_guest_wrote) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_vss(&e, 0);
        negotiated(&e, &ch);
        static const uint8_t claims[] = { VSS_OP_THAW, 0xff };
        for (size_t i = 0; i < sizeof claims; i++) {
                ASSERT_OK(icvsp_request_vss(e.ic, VSS_OP_FREEZE));
                expect_request(&e, &ch, VSS_OP_FREEZE);
                struct hv_vss_msg m;
                memcpy(&m, e.payload + ICMSG_HDR, sizeof m);
                m.operation = claims[i];
                memcpy(e.payload + ICMSG_HDR, &m, sizeof m);
                guest_answer(&e, &ch, HV_S_OK);
                expect_answer(&e, VSS_OP_FREEZE, HV_S_OK);
        }
        /* An answer with no body at all: the icmsg header only. */
        ASSERT_OK(icvsp_request_vss(e.ic, VSS_OP_THAW));
        expect_request(&e, &ch, VSS_OP_THAW);
        struct icmsg_hdr h;
        memcpy(&h, e.payload + sizeof(struct vmbuspipe_hdr), sizeof h);
        h.icmsgsize = 0;
        memcpy(e.payload + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        guest_answer_len(&e, &ch, ICMSG_HDR, HV_E_FAIL);
        expect_answer(&e, VSS_OP_THAW, HV_E_FAIL);
        env_free(&e);
}

TEST(an_unanswered_request_fails) {
        struct env e;
        struct vmbus_sim_channel ch;
        env_vss(&e, 300);
        negotiated(&e, &ch);
        ASSERT_OK(icvsp_request_vss(e.ic, VSS_OP_FREEZE));
        expect_request(&e, &ch, VSS_OP_FREEZE);
        expect_answer(&e, VSS_OP_FREEZE, HV_E_FAIL);
        ASSERT_OK(icvsp_request_vss(e.ic, VSS_OP_THAW));
        expect_request(&e, &ch, VSS_OP_THAW);
        env_free(&e);
}

int main(void) {
        return test_run_all_(NULL);
}
