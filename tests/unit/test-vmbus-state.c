// SPDX-License-Identifier: MIT
/* vmbus_server_save / vmbus_server_restore (docs/vm-state.md): a connected
 * guest with echo channels open (one with a sub-channel), packets in
 * flight both ways, a complete and a half-sent GPADL and a device
 * hot-added while quiesced is saved; the server is freed and a new one,
 * built with the same devices, restores the state over the same guest
 * RAM. The guest goes on with its old channel handles: every packet is
 * echoed once in order, the held offer arrives once, the pending GPADL
 * completes with its last body, teardowns and closes are answered, and no
 * mapping leaks. Refusals leave the new server empty and usable. */
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "common/vmstate.h"
#include "hv/tlfs.h"
#include "vmbustest/echo.h"
#include "vmbus/server.h"
#include "vmbustest/sim.h"
#include "vmbus/state.h"
#include "tests/lib/vmstate-file.h"
#include "test-vmbus-echo.h"


static uint8_t buf[1024];

static uint64_t ram_hash(struct vmbus_sim *sim) {
        return test_ram_hash(vmbus_sim_ram(sim), vmbus_sim_ram_size(sim));
}



struct fx {
        struct vmbus_sim *sim;
        struct vmbus_server *srv;
        struct vmbus_echo echo[3];
        struct vmbus_device_config dc[3];
        struct vmbus_sim_channel ch[3]; /* device 1, device 2, device 1's sub-channel */
        uint32_t data_gpadl, pending_gpadl;
        uint64_t pending_pfns[40];
};

static void add_devices(struct fx *f, struct vmbus_server *srv, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                ASSERT_OK(vmbus_server_add_device(srv, &f->dc[i], NULL));
}

static struct vmbus_server *new_server(struct fx *f, unsigned max_channels) {
        struct vmbus_server *srv;
        ASSERT_OK(vmbus_server_new(&(struct vmbus_server_config){ .vp_count = 2,
                                                                  .limits.max_channels = max_channels },
                                   &vmbus_sim_ops, f->sim, &srv));
        return srv;
}

/* GPADL_HEADER with only its first PFNs: the rest would follow in bodies. */
static void gpadl_header_only(struct fx *f, uint32_t relid, uint32_t handle) {
        uint8_t m[240] = { 0 };
        struct vmbus_channel_gpadl_header h = { .header.msgtype = CHANNELMSG_GPADL_HEADER, .child_relid = relid,
                                                .gpadl = handle, .rangecount = 1,
                                                .range_buflen = 8 + 8 * ARRAY_SIZE(f->pending_pfns) };
        struct vmbus_gpa_range r = { .byte_count = ARRAY_SIZE(f->pending_pfns) * 4096, .byte_offset = 0 };
        memcpy(m, &h, sizeof h);
        memcpy(m + sizeof h, &r, sizeof r);
        memcpy(m + sizeof h + sizeof r, f->pending_pfns, 8 * 26);
        ASSERT_EQ(vmbus_sim_post(f->sim, 1, 0, m, sizeof h + sizeof r + 8 * 26), HV_STATUS_SUCCESS);
}

static void gpadl_rest(struct fx *f, uint32_t handle) {
        uint8_t m[240] = { 0 };
        struct vmbus_channel_gpadl_body b = { .header.msgtype = CHANNELMSG_GPADL_BODY, .gpadl = handle };
        memcpy(m, &b, sizeof b);
        size_t rest = ARRAY_SIZE(f->pending_pfns) - 26;
        memcpy(m + sizeof b, f->pending_pfns + 26, 8 * rest);
        ASSERT_EQ(vmbus_sim_post(f->sim, 1, 0, m, sizeof b + 8 * rest), HV_STATUS_SUCCESS);
}

static void fx_setup(struct fx *f) {
        *f = (struct fx){ 0 };
        ASSERT_OK(vmbus_sim_new(16u << 20, 2, &f->sim));
        f->srv = new_server(f, 0);
        for (unsigned i = 0; i < 3; i++) {
                ASSERT_OK(vmbus_echo_init(&f->echo[i], i == 1 ? VMBUS_ECHO_POLL_US : 0));
                f->dc[i] = (struct vmbus_device_config){ .ops = &vmbus_echo_ops, .data = &f->echo[i] };
                f->dc[i].instance_id.b[0] = (uint8_t)(i + 1);
        }
        add_devices(f, f->srv, 2);
        ASSERT_EQ(vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel offers[4];
        ASSERT_EQ(vmbus_sim_request_offers(f->sim, offers, 4), 2);
        for (unsigned i = 0; i < 2; i++)
                ASSERT_EQ(vmbus_sim_open(f->sim, offers[i].child_relid, offers[i].connection_id, 8, NULL, 0, &f->ch[i]),
                          0);
        /* A sub-channel of device 1, opened. */
        struct vmbus_echo_subchannel_request req = { .magic = "SUBCHAN", .count = 1 };
        ASSERT_OK(vmbus_sim_ring_write(f->sim, &f->ch[0], VM_PKT_DATA_INBAND,
                                       VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, 999, &req, sizeof req));
        struct vmbus_packet p;
        ASSERT_GT(vmbus_sim_ring_wait(f->sim, &f->ch[0], buf, sizeof buf, &p, 5000), 0);
        ASSERT_EQ(p.type, VM_PKT_COMP);
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(f->sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.sub_channel_index, 1u);
        ASSERT_EQ(vmbus_sim_open(f->sim, o.child_relid, o.connection_id, 8, NULL, 0, &f->ch[2]), 0);
        /* A data GPADL on device 2 and one whose bodies are still to come. */
        uint64_t pfns[4];
        uint64_t first = vmbus_sim_alloc_pages(f->sim, 4);
        for (unsigned i = 0; i < 4; i++)
                pfns[i] = first + i;
        f->data_gpadl = vmbus_sim_next_gpadl_handle(f->sim);
        ASSERT_EQ(vmbus_sim_create_gpadl(f->sim, f->ch[1].relid, f->data_gpadl, pfns, 4, 4 * 4096), 0);
        first = vmbus_sim_alloc_pages(f->sim, ARRAY_SIZE(f->pending_pfns));
        for (unsigned i = 0; i < ARRAY_SIZE(f->pending_pfns); i++)
                f->pending_pfns[i] = first + i;
        f->pending_gpadl = vmbus_sim_next_gpadl_handle(f->sim);
        gpadl_header_only(f, f->ch[1].relid, f->pending_gpadl);
}

/* After the last server is freed. */
static void fx_free_echo(struct fx *f) {
        for (unsigned i = 0; i < ARRAY_SIZE(f->echo); i++)
                vmbus_echo_fini(&f->echo[i]);
}

static int save_server(void *srv, struct vmstate_writer *w, char *err, size_t errlen) {
        return vmbus_server_save(srv, w, err, errlen);
}

/* The state of f->srv (quiesced) in a memfd; the index in secs. */
static int save_state(struct fx *f, uint8_t **map, size_t *len, struct vmstate_section *secs, size_t max) {
        return vmstate_test_save(save_server, f->srv, map, len, secs, max);
}

/* Saves f->srv (quiesced), frees it and restores the state into a new
 * server built with ndev devices, which must accept it. */
static void save_and_rebuild(struct fx *f, unsigned ndev) {
        static struct vmstate_section secs[64];
        uint8_t *map;
        size_t len;
        int n = save_state(f, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(f->srv);
        f->srv = new_server(f, 0);
        add_devices(f, f->srv, ndev);
        char err[256] = "";
        int r = vmbus_server_restore(f->srv, secs, (size_t)n, err, sizeof err);
        if (r < 0)
                ASSERT_STREQ(err, "");
        munmap(map, len);
}

TEST(save_restore_continues_the_guest) {
        static struct fx f;
        fx_setup(&f);
        for (uint64_t id = 1; id <= 20; id++)
                for (unsigned c = 0; c < 3; c++)
                        echo_put(f.sim, &f.ch[c], id);
        /* The guest tears the sub-channel's ring down while it is open:
         * answered only when the channel closes (after the restore). */
        struct vmbus_channel_gpadl_teardown td = { .header.msgtype = CHANNELMSG_GPADL_TEARDOWN,
                                                   .child_relid = f.ch[2].relid, .gpadl = f.ch[2].gpadl };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &td, sizeof td), HV_STATUS_SUCCESS);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        echo_rig_quiesce(f.srv, f.echo, 3);
        /* Queued while quiesced: served only by the restored server. */
        for (uint64_t id = 21; id <= 30; id++)
                for (unsigned c = 0; c < 3; c++)
                        echo_put(f.sim, &f.ch[c], id);
        ASSERT_OK(vmbus_server_add_device(f.srv, &f.dc[2], NULL)); /* its offer is held */
        static struct vmstate_section secs[64];
        uint8_t *map;
        size_t len;
        int n = save_state(&f, &map, &len, secs, ARRAY_SIZE(secs));
        unsigned msgs = vmbus_sim_pending_messages(f.sim);
        uint64_t h0 = ram_hash(f.sim), ev0 = vmbus_sim_event_count(f.sim);
        vmbus_server_free(f.srv);
        /* The old worker's end says nothing and writes no ring. */
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), msgs);
        ASSERT_EQ(ram_hash(f.sim), h0);
        ASSERT_EQ(vmbus_sim_event_count(f.sim), ev0);

        /* Refused: a server without device 2, one with too few relids, one
         * the guest already used. Each stays empty and usable. */
        struct vmbus_server *bad = new_server(&f, 0);
        ASSERT_OK(vmbus_server_add_device(bad, &f.dc[0], NULL));
        ASSERT_OK(vmbus_server_add_device(bad, &f.dc[2], NULL));
        char err[256] = "";
        ASSERT_EQ(vmbus_server_restore(bad, secs, (size_t)n, err, sizeof err), -ENOENT);
        ASSERT_NOT_NULL(strstr(err, "a device this VM does not have"));
        vmbus_server_free(bad);
        bad = new_server(&f, 3);
        add_devices(&f, bad, 3);
        err[0] = 0;
        ASSERT_EQ(vmbus_server_restore(bad, secs, (size_t)n, err, sizeof err), -EINVAL);
        ASSERT_NOT_NULL(strstr(err, "this VM allows 3"));
        vmbus_server_free(bad);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);

        f.srv = new_server(&f, 0);
        add_devices(&f, f.srv, 3);
        err[0] = 0;
        uint64_t h = ram_hash(f.sim), events = vmbus_sim_event_count(f.sim);
        int r = vmbus_server_restore(f.srv, secs, (size_t)n, err, sizeof err);
        if (r < 0)
                ASSERT_STREQ(err, "");
        /* Restored quiesced: nothing reaches the guest before resume. */
        usleep(50000);
        ASSERT_EQ(ram_hash(f.sim), h);
        ASSERT_EQ(vmbus_sim_event_count(f.sim), events);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), msgs);
        ASSERT_EQ(vmbus_server_restore(f.srv, secs, (size_t)n, err, sizeof err), -EBUSY);
        munmap(map, len);
        echo_rig_resume(f.srv, f.echo, 3);

        for (unsigned c = 0; c < 3; c++)
                echo_expect(f.sim, &f.ch[c], 1, 30, 30);
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.if_instance[0], 3);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        /* The half-sent GPADL completes; the data GPADL tears down. */
        gpadl_rest(&f, f.pending_gpadl);
        struct vmbus_channel_gpadl_created gc;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_GPADL_CREATED, &gc, sizeof gc), (int)sizeof gc);
        ASSERT_EQ(gc.gpadl, f.pending_gpadl);
        ASSERT_EQ(gc.creation_status, 0u);
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, f.ch[1].relid, f.data_gpadl));
        ASSERT_OK(vmbus_sim_teardown_gpadl(f.sim, f.ch[1].relid, f.pending_gpadl));
        /* The new device opens; an old channel closes; traffic goes on. */
        struct vmbus_sim_channel c3;
        ASSERT_EQ(vmbus_sim_open(f.sim, o.child_relid, o.connection_id, 8, NULL, 0, &c3), 0);
        echo_put(f.sim, &c3, 7);
        echo_expect(f.sim, &c3, 7, 7, 30);
        struct vmbus_channel_relid_message cl = { .header.msgtype = CHANNELMSG_CLOSECHANNEL,
                                                  .child_relid = f.ch[2].relid };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &cl, sizeof cl), HV_STATUS_SUCCESS);
        struct vmbus_channel_gpadl_torndown tdn;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_GPADL_TORNDOWN, &tdn, sizeof tdn), (int)sizeof tdn);
        ASSERT_EQ(tdn.gpadl, f.ch[2].gpadl);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        echo_put(f.sim, &f.ch[0], 31);
        echo_expect(f.sim, &f.ch[0], 31, 31, 30);
        unsigned gpadls, pages;
        vmbus_server_gpadl_usage(f.srv, &gpadls, &pages);
        ASSERT_EQ(gpadls, 3u); /* the rings of channels 1, 2 and the new one */
        vmbus_server_free(f.srv);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        fx_free_echo(&f);
        vmbus_sim_free(f.sim);
}

/* An echo channel holding a packet it could not answer (its guest ring
 * full) keeps it across the save and answers it once there is room. */
TEST(a_held_packet_survives) {
        static struct fx f;
        fx_setup(&f);
        /* Fill both rings without reading: the echo worker blocks with a
         * packet in hand once the guest's inbound ring is full. */
        uint8_t msg[ECHO_PAYLOAD];
        uint64_t id = 0;
        for (int tries = 0; tries < 200; tries++) {
                memset(msg, (int)((id + 1) & 0xff), sizeof msg);
                if (vmbus_sim_ring_write(f.sim, &f.ch[0], VM_PKT_DATA_INBAND, 0, id + 1, msg, sizeof msg) == 0) {
                        id++;
                        tries = 0;
                } else {
                        usleep(1000);
                }
        }
        ASSERT_GT(id, 100u);
        echo_rig_quiesce(f.srv, f.echo, 3);
        save_and_rebuild(&f, 2);
        echo_rig_resume(f.srv, f.echo, 3);
        echo_expect(f.sim, &f.ch[0], 1, id, 30);
        vmbus_server_free(f.srv);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        fx_free_echo(&f);
        vmbus_sim_free(f.sim);
}

/* A device hot-removed while quiesced: its rescind is held, the restored
 * server (built without it) keeps the rescinded relid with its GPADLs,
 * posts the rescind once at resume, and frees the relid at the guest's
 * RELID_RELEASED. */
TEST(a_rescind_held_across_the_save) {
        static struct fx f;
        fx_setup(&f);
        echo_put(f.sim, &f.ch[0], 1);
        echo_expect(f.sim, &f.ch[0], 1, 1, 30);
        echo_rig_quiesce(f.srv, f.echo, 3);
        /* fx_setup kept no device pointer: device 2 through its channel. */
        struct vmbus_channel *c2 = vmbus_server_open_channel(f.srv, f.ch[1].relid);
        ASSERT_NOT_NULL(c2);
        ASSERT_OK(vmbus_server_remove_device(f.srv, vmbus_channel_device(c2)));
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* held */
        save_and_rebuild(&f, 1);
        unsigned gpadls, pages;
        vmbus_server_gpadl_usage(f.srv, &gpadls, &pages);
        ASSERT_EQ(gpadls, 5u); /* 3 rings, the data GPADL, the pending one */
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        echo_rig_resume(f.srv, f.echo, 3);
        struct vmbus_channel_relid_message m;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_RESCIND_CHANNELOFFER, &m, sizeof m), (int)sizeof m);
        ASSERT_EQ(m.child_relid, f.ch[1].relid);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u);
        echo_put(f.sim, &f.ch[0], 2);
        echo_put(f.sim, &f.ch[2], 2);
        echo_expect(f.sim, &f.ch[0], 2, 2, 30);
        echo_expect(f.sim, &f.ch[2], 2, 2, 30);
        /* The guest lets the relid go; its GPADLs go with it. */
        struct vmbus_channel_relid_message rel = { .header.msgtype = CHANNELMSG_RELID_RELEASED,
                                                   .child_relid = f.ch[1].relid };
        ASSERT_EQ(vmbus_sim_post(f.sim, 1, 0, &rel, sizeof rel), HV_STATUS_SUCCESS);
        vmbus_server_gpadl_usage(f.srv, &gpadls, &pages);
        ASSERT_EQ(gpadls, 2u);
        ASSERT_EQ(vmbus_sim_pending_messages(f.sim), 0u); /* nothing answers RELID_RELEASED */
        /* The relid is free again: a hot-added device takes it. */
        ASSERT_OK(vmbus_server_add_device(f.srv, &f.dc[1], NULL));
        struct vmbus_channel_offer_channel o;
        ASSERT_EQ(vmbus_sim_expect(f.sim, CHANNELMSG_OFFERCHANNEL, &o, sizeof o), (int)sizeof o);
        ASSERT_EQ(o.child_relid, f.ch[1].relid);
        vmbus_server_free(f.srv);
        ASSERT_EQ(vmbus_sim_live_mappings(f.sim), 0u);
        fx_free_echo(&f);
        vmbus_sim_free(f.sim);
}

/* ---- refusals ---- */

/* A copy of a saved state with sections changed by fn (false: dropped),
 * written and indexed again. */
typedef bool (*mutate_fn)(uint32_t tag, uint32_t instance, void *st, const struct fx *f);

static int rewrite_state(const struct fx *f, const struct vmstate_section *secs, size_t n, mutate_fn fn,
                         uint8_t **map, size_t *len, struct vmstate_section *out, size_t max) {
        int fd = memfd_create("vmbus-state-x", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(fd, 0, &w));
        char err[256] = "";
        static union {
                struct vmbus_saved_server sv;
                struct vmbus_saved_channel ch;
                struct vmbus_saved_gpadl gp;
                struct vmbus_echo_state ec;
        } st;
        for (size_t i = 0; i < n; i++) {
                const struct vmstate_desc *d = NULL;
                if (secs[i].tag == VMBUS_STATE_TAG_SERVER) {
                        ASSERT_OK(vmbus_server_state_decode(&secs[i], &st.sv, err, sizeof err));
                        d = &vmbus_server_state_desc;
                } else if (secs[i].tag == VMBUS_STATE_TAG_CHANNEL) {
                        ASSERT_OK(vmbus_channel_state_decode(&secs[i], &st.ch, err, sizeof err));
                        d = &vmbus_channel_state_desc;
                } else if (secs[i].tag == VMBUS_STATE_TAG_GPADL) {
                        ASSERT_OK(vmbus_gpadl_state_decode(&secs[i], &st.gp, err, sizeof err));
                        d = &vmbus_gpadl_state_desc;
                } else {
                        ASSERT_EQ(secs[i].tag, VMBUS_ECHO_STATE_TAG);
                        ASSERT_OK(vmbus_echo_state_decode(&secs[i], &st.ec, err, sizeof err));
                        d = &vmbus_echo_state_desc;
                }
                if (fn(secs[i].tag, secs[i].instance, &st, f))
                        ASSERT_OK(vmstate_encode(w, d, secs[i].instance, &st));
        }
        ASSERT_OK(vmstate_finish(w));
        *len = (size_t)vmstate_written(w);
        vmstate_writer_free(w);
        *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        ASSERT_TRUE(*map != MAP_FAILED);
        close(fd);
        struct vmstate_header h;
        int r = vmstate_index(*map, *len, &h, out, max, err, sizeof err);
        if (r < 0)
                ASSERT_STREQ(err, "");
        return r;
}

static bool bad_target_vp(uint32_t tag, uint32_t instance, void *st, const struct fx *f) {
        if (tag == VMBUS_STATE_TAG_CHANNEL && instance == f->ch[1].relid)
                ((struct vmbus_saved_channel *)st)->target_vp = 2;
        return true;
}

static bool no_ring_gpadl(uint32_t tag, uint32_t instance, void *st, const struct fx *f) {
        if (tag == VMBUS_STATE_TAG_SERVER)
                ((struct vmbus_saved_server *)st)->n_gpadls--;
        return !(tag == VMBUS_STATE_TAG_GPADL && instance == f->ch[0].gpadl);
}

static bool sub_is_primary(uint32_t tag, uint32_t instance, void *st, const struct fx *f) {
        if (tag == VMBUS_STATE_TAG_CHANNEL && instance == f->ch[2].relid)
                ((struct vmbus_saved_channel *)st)->sub_index = 0;
        return true;
}

static bool one_more_channel(uint32_t tag, uint32_t instance, void *st, const struct fx *f) {
        if (tag == VMBUS_STATE_TAG_SERVER)
                ((struct vmbus_saved_server *)st)->n_channels++;
        return true;
}

static bool pfn_outside_ram(uint32_t tag, uint32_t instance, void *st, const struct fx *f) {
        if (tag == VMBUS_STATE_TAG_GPADL && instance == f->data_gpadl)
                vmstate_put_le64(((struct vmbus_saved_gpadl *)st)->buf + 8 + 8, 1ull << 30);
        return true;
}

/* A refused restore left srv as built: nothing mapped, nothing connected,
 * and a new guest connects, gets the offers a fresh server makes (relids
 * 1 and 2) and echoes on a channel. */
static void fresh_guest_works(struct fx *f, struct vmbus_server *srv) {
        unsigned gpadls, pages;
        vmbus_server_gpadl_usage(srv, &gpadls, &pages);
        ASSERT_EQ(gpadls + pages, 0u);
        ASSERT_EQ(vmbus_server_version(srv), 0u);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
        while (vmbus_sim_pending_messages(f->sim))
                (void)vmbus_sim_next_message(f->sim, NULL, buf, sizeof buf);
        ASSERT_EQ(vmbus_sim_connect(f->sim, VERSION_WIN10_V5_3), 1);
        struct vmbus_channel_offer_channel offers[4];
        ASSERT_EQ(vmbus_sim_request_offers(f->sim, offers, 4), 2);
        for (unsigned i = 0; i < 2; i++) {
                ASSERT_EQ(offers[i].child_relid, i + 1);
                ASSERT_EQ(offers[i].if_instance[0], i + 1);
                ASSERT_EQ(offers[i].sub_channel_index, 0u);
        }
        /* The refused restore_channel left the echo quiesced, as a
         * restored channel comes back. */
        vmbus_echo_resume(&f->echo[0]);
        struct vmbus_sim_channel c;
        ASSERT_EQ(vmbus_sim_open(f->sim, offers[0].child_relid, offers[0].connection_id, 8, NULL, 0, &c), 0);
        echo_put(f->sim, &c, 5);
        echo_expect(f->sim, &c, 5, 5, 30);
        ASSERT_OK(vmbus_sim_close(f->sim, &c));
        vmbus_server_free(srv);
        ASSERT_EQ(vmbus_sim_live_mappings(f->sim), 0u);
}

static void expect_refusal(struct fx *f, const struct vmstate_section *secs, size_t n, int want, const char *what) {
        struct vmbus_server *srv = new_server(f, 0);
        add_devices(f, srv, 2);
        char err[256] = "";
        int r = vmbus_server_restore(srv, secs, n, err, sizeof err);
        if (r != want || !strstr(err, what))
                ASSERT_STREQ(err, what);
        ASSERT_EQ(r, want);
        fresh_guest_works(f, srv);
}

TEST(refusals_leave_the_server_as_built) {
        static struct fx f;
        fx_setup(&f);
        for (uint64_t id = 1; id <= 5; id++)
                for (unsigned c = 0; c < 3; c++)
                        echo_put(f.sim, &f.ch[c], id);
        echo_rig_quiesce(f.srv, f.echo, 3);
        static struct vmstate_section secs[64], x[66];
        uint8_t *map, *xmap;
        size_t len, xlen;
        int n = save_state(&f, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(f.srv);
        f.srv = NULL;

        /* A device this server lacks (device 2 is not added). */
        struct vmbus_server *srv = new_server(&f, 0);
        add_devices(&f, srv, 1);
        char err[256] = "";
        ASSERT_EQ(vmbus_server_restore(srv, secs, (size_t)n, err, sizeof err), -ENOENT);
        ASSERT_NOT_NULL(strstr(err, "VBCH #2: a device this VM does not have"));
        vmbus_server_free(srv);

        struct {
                mutate_fn fn;
                int want;
                const char *what;
        } cases[] = {
                { bad_target_vp, -EINVAL, "target VP 2 of 2" },
                { no_ring_gpadl, -EINVAL, "ring GPADL" },
                { sub_is_primary, -EINVAL, "channel 0 of echo is also at relid" },
                { pfn_outside_ram, -EFAULT, "PFN 0x40000000 is not guest RAM" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int xn = rewrite_state(&f, secs, (size_t)n, cases[i].fn, &xmap, &xlen, x, ARRAY_SIZE(x));
                expect_refusal(&f, x, (size_t)xn, cases[i].want, cases[i].what);
                munmap(xmap, xlen);
        }
        /* Two sections for one relid (a file cannot hold them: an index
         * made by hand). */
        int xn = rewrite_state(&f, secs, (size_t)n, one_more_channel, &xmap, &xlen, x, ARRAY_SIZE(x) - 1);
        const struct vmstate_section *dup = vmstate_find(x, (size_t)xn, VMBUS_STATE_TAG_CHANNEL, f.ch[1].relid);
        ASSERT_NOT_NULL(dup);
        x[xn] = *dup;
        expect_refusal(&f, x, (size_t)xn + 1, -EINVAL, "a second section for this relid");
        munmap(xmap, xlen);
        /* A truncated channel section. */
        memcpy(x, secs, sizeof secs[0] * (size_t)n);
        struct vmstate_section *t = (struct vmstate_section *)vmstate_find(x, (size_t)n, VMBUS_STATE_TAG_CHANNEL,
                                                                           f.ch[2].relid);
        ASSERT_NOT_NULL(t);
        t->length -= 12;
        expect_refusal(&f, x, (size_t)n, -EINVAL, "section VBCH #3 at offset");
        /* Refused while applying: the sub-channel's provider state is
         * missing, so its restore_channel fails after the other channels
         * were reopened and every GPADL mapped again; all of it is undone. */
        size_t m = 0;
        for (int i = 0; i < n; i++)
                if (!(secs[i].tag == VMBUS_ECHO_STATE_TAG && secs[i].instance == f.ch[2].relid))
                        x[m++] = secs[i];
        ASSERT_EQ(m, (size_t)n - 1);
        expect_refusal(&f, x, m, -ENOENT, "no VBEC section for channel");
        munmap(map, len);
        fx_free_echo(&f);
        vmbus_sim_free(f.sim);
}

/* A device whose instance changed (file copy took Hyper-V's) restores a
 * state saved with the instance it had, given as its former one: the
 * guest goes on with its channel, and the device keeps that instance in
 * the next save. Without it the state names a device this VM lacks. */
TEST(a_former_instance_is_kept) {
        static struct fx f;
        fx_setup(&f);
        echo_rig_quiesce(f.srv, f.echo, 3);
        static struct vmstate_section secs[64];
        uint8_t *map;
        size_t len;
        int n = save_state(&f, &map, &len, secs, ARRAY_SIZE(secs));
        vmbus_server_free(f.srv);
        struct guid old = f.dc[1].instance_id;
        f.dc[1].instance_id.b[0] = 0x42;
        f.srv = new_server(&f, 0);
        add_devices(&f, f.srv, 1);
        ASSERT_OK(vmbus_server_add_device(f.srv, &f.dc[1], NULL));
        char err[256] = "";
        ASSERT_EQ(vmbus_server_restore(f.srv, secs, (size_t)n, err, sizeof err), -ENOENT);
        ASSERT_NOT_NULL(strstr(err, "a device this VM does not have"));
        vmbus_server_free(f.srv);

        f.dc[1].former_instance = old;
        f.srv = new_server(&f, 0);
        add_devices(&f, f.srv, 1);
        struct vmbus_device *dev;
        ASSERT_OK(vmbus_server_add_device(f.srv, &f.dc[1], &dev));
        ASSERT_EQ(vmbus_device_instance(dev)->b[0], 0x42);
        err[0] = 0;
        if (vmbus_server_restore(f.srv, secs, (size_t)n, err, sizeof err) < 0)
                ASSERT_STREQ(err, "");
        ASSERT_TRUE(guid_equal(vmbus_device_instance(dev), &old));
        echo_rig_resume(f.srv, f.echo, 3);
        echo_put(f.sim, &f.ch[1], 7);
        echo_expect(f.sim, &f.ch[1], 7, 7, 30);
        echo_rig_quiesce(f.srv, f.echo, 3);
        static struct vmstate_section again[64];
        uint8_t *map2;
        size_t len2;
        int n2 = save_state(&f, &map2, &len2, again, ARRAY_SIZE(again));
        const struct vmstate_section *c = vmstate_find(again, (size_t)n2, VMBUS_STATE_TAG_CHANNEL, f.ch[1].relid);
        ASSERT_NOT_NULL(c);
        struct vmbus_saved_channel st;
        ASSERT_OK(vmbus_channel_state_decode(c, &st, err, sizeof err));
        ASSERT_MEMEQ(st.instance_id, old.b, 16);
        vmbus_server_free(f.srv);
        munmap(map2, len2);
        munmap(map, len);
        fx_free_echo(&f);
        vmbus_sim_free(f.sim);
}

TEST_MAIN();
