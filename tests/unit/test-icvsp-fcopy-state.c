// SPDX-License-Identifier: MIT
/* The file-copy service and saved state (vsp/ic/fcopy.c, docs/vm-state.md):
 * a VM is saved only while no copy runs (the save refused with a sentence,
 * then taken once the copy ended), and a state that claims a copy under
 * way is refused by the decoder. */
#include "tests/unit/test-icvsp-fcopy.h"

struct both {
        struct vmbus_server *srv;
        struct icvsp *ic;
};

static int save_both(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        struct both *b = opaque;
        int r = vmbus_server_save(b->srv, w, err, errlen);
        return r < 0 ? r : icvsp_save(b->ic, w, err, errlen);
}

/* Both rows refuse to save a copy in progress, naming it. */
static void save_refused(struct env *e) {
        int fd = memfd_create("vmstate-test", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct vmstate_writer *w;
        char err[256] = "";
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        ASSERT_EQ(vmbus_server_save(e->srv, w, err, sizeof err), -EBUSY);
        ASSERT_NOT_NULL(strstr(err, "file copy"));
        err[0] = 0;
        ASSERT_EQ(icvsp_save(e->ic, w, err, sizeof err), -EBUSY);
        ASSERT_NOT_NULL(strstr(err, "file copy"));
        vmstate_writer_free(w);
        close(fd);
}

/* A VM is never saved with a copy in progress; an idle, negotiated file
 * copy channel is saved and restored like the others and serves the next
 * copy. */
TEST(saved_only_when_idle) {
        static struct env e;
        static uint8_t data[FILE_LEN];
        struct vmbus_sim_channel ch;
        env_fcopy(&e, 0);
        int fd = make_file(data, FILE_LEN);
        negotiated(&e, &ch);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        ASSERT_OK(icvsp_quiesce(e.ic));
        ASSERT_OK(vmbus_server_quiesce(e.srv));
        save_refused(&e);
        vmbus_server_resume(e.srv);
        icvsp_resume(e.ic);
        ASSERT_OK(icvsp_fcopy_cancel(e.ic));
        guest_answer(&e, &ch, HV_S_OK);
        expect_op(&e, &ch, CANCEL_FCOPY);
        guest_answer(&e, &ch, HV_S_OK);
        expect_done(&e, -ECANCELED, HV_S_OK, FRAG);

        ASSERT_OK(icvsp_quiesce(e.ic));
        ASSERT_OK(vmbus_server_quiesce(e.srv));
        uint8_t *map;
        size_t len;
        struct vmstate_section secs[32];
        struct both b = { e.srv, e.ic };
        int n = vmstate_test_save(save_both, &b, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(e.srv);
        icvsp_free(e.ic);
        memset(&e.o, 0, sizeof e.o);
        pthread_mutex_init(&e.o.lock, NULL);
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vmbus_sim_ops, e.sim, &e.srv));
        struct icvsp_config c = fcopy_config(0);
        ASSERT_OK(icvsp_new(e.srv, &c, &owner_ops, &e.o, &e.ic));
        char err[256] = "";
        if (vmbus_server_restore(e.srv, secs, (size_t)n, err, sizeof err) < 0 ||
            icvsp_restore(e.ic, secs, (size_t)n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_TRUE(icvsp_fcopy_ready(e.ic));
        vmbus_server_resume(e.srv);
        icvsp_resume(e.ic);
        started(&e, &ch, fd, FILE_LEN);
        expect_write(&e, &ch, data, 0, FRAG);
        guest_answer(&e, &ch, HV_S_OK);
        expect_write(&e, &ch, data, FRAG, FRAG);
        env_free(&e); /* first: a copy under way reads fd until then */
        close(fd);
        munmap(map, len);
}

static int encode_state(void *opaque, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmstate_encode(w, &icvsp_channel_state_desc, 7, opaque);
}

/* The decoder takes a file-copy channel negotiated at 1.1, idle or with
 * its negotiate outstanding, and refuses one with a request of a copy. */
TEST(decoder_refuses_a_copy_in_the_state) {
        struct icvsp_channel_state st = {
                .service = 5, .negotiated = true, .fw_major = 3, .msg_major = 1, .msg_minor = 1,
                .next_id = 9, .kvp_pushing = UINT32_MAX,
        };
        for (int i = 0; i < 3; i++) {
                if (i == 1) /* a negotiate in flight: before the versions */
                        st = (struct icvsp_channel_state){ .service = 5, .outstanding = true, .outstanding_id = 1,
                                                           .next_id = 1, .kvp_pushing = UINT32_MAX };
                if (i == 2) /* a WRITE_TO_FILE in flight */
                        st = (struct icvsp_channel_state){ .service = 5, .negotiated = true, .fw_major = 3,
                                                           .msg_major = 1, .msg_minor = 1, .outstanding = true,
                                                           .outstanding_type = ICMSGTYPE_FCOPY,
                                                           .outstanding_id = 9, .next_id = 9,
                                                           .kvp_pushing = UINT32_MAX };
                uint8_t *map;
                size_t len;
                struct vmstate_section secs[4];
                ASSERT_EQ(vmstate_test_save(encode_state, &st, &map, &len, secs, ARRAY_SIZE(secs)), 1);
                struct icvsp_channel_state out;
                char err[256] = "";
                int r = icvsp_channel_state_decode(&secs[0], &out, err, sizeof err);
                if (i < 2) {
                        ASSERT_STREQ(err, "");
                        ASSERT_OK(r);
                        ASSERT_EQ(out.service, 5);
                } else {
                        ASSERT_EQ(r, -EINVAL);
                        ASSERT_NOT_NULL(strstr(err, "outstanding request of a file copy"));
                }
                munmap(map, len);
        }
}

int main(void) {
        return test_run_all_(NULL);
}
