// SPDX-License-Identifier: MIT
/* The VMBus server over the guest RAM of a real KVM partition: rings and
 * GPADLs are mapped with vid_map_pages (VID_PAGES_WRAP for the rings) and
 * data-buffer copies go through gm_read/gm_write, exactly as in
 * vmbus_host_hv_ops; control messages and events still go through the
 * simulated guest, because the SynIC lives in hvshim (not on main yet: its
 * component test comes with it). The echo provider answers on its device
 * worker. */
#include "common/macro.h"
#include "common/test.h"
#include "vid/vid.h"
#include "vmbus/server.h"
#include "vmbustest/echo.h"
#include "vmbustest/sim.h"

#define RAM_BYTES (64ull << 20)

/* Host context: the sim for messages and events, vid for memory. */
struct vid_host {
        struct vmbus_sim *sim;
        struct vid_partition *p;
        unsigned maps;
};

static int vh_post(void *h, unsigned vp, const void *m, size_t len) {
        return vmbus_sim_ops.post_message(((struct vid_host *)h)->sim, vp, m, len);
}
static int vh_handler(void *h, uint32_t id, vmbus_host_message_fn fn, void *opaque) {
        return vmbus_sim_ops.set_message_handler(((struct vid_host *)h)->sim, id, fn, opaque);
}
static int vh_register(void *h, uint32_t id, int efd) {
        return vmbus_sim_ops.register_event(((struct vid_host *)h)->sim, id, efd);
}
static int vh_unregister(void *h, uint32_t id) {
        return vmbus_sim_ops.unregister_event(((struct vid_host *)h)->sim, id);
}
static int vh_signal(void *h, unsigned vp, uint32_t relid) {
        return vmbus_sim_ops.signal_event(((struct vid_host *)h)->sim, vp, relid);
}
static int vh_map(void *host, const uint64_t *pfns, size_t n, unsigned flags, size_t wrap_from,
                  struct vmbus_host_mapping *out) {
        struct vid_host *h = host;
        struct vid_pages m;
        int r = vid_map_pages(h->p, pfns, n, (flags & VMBUS_MAP_WRAP) ? VID_PAGES_WRAP : 0, wrap_from, &m);
        if (r < 0)
                return r;
        *out = (struct vmbus_host_mapping){ .base = m.base, .n_pages = m.n_pages, .map_len = m.map_len };
        h->maps++;
        return 0;
}
static void vh_unmap(void *host, struct vmbus_host_mapping *m) {
        struct vid_host *h = host;
        struct vid_pages v = { .base = m->base, .n_pages = m->n_pages, .map_len = m->map_len };
        vid_unmap_pages(&v);
        m->base = NULL;
        h->maps--;
}
static int vh_read(void *h, uint64_t gpa, void *buf, size_t len) {
        return gm_read(((struct vid_host *)h)->p, gpa, buf, len);
}
static int vh_write(void *h, uint64_t gpa, const void *buf, size_t len) {
        return gm_write(((struct vid_host *)h)->p, gpa, buf, len);
}

static const struct vmbus_host_ops vid_host_ops = {
        .post_message = vh_post, .set_message_handler = vh_handler, .register_event = vh_register,
        .unregister_event = vh_unregister, .signal_event = vh_signal, .map_pages = vh_map,
        .unmap_pages = vh_unmap, .read = vh_read, .write = vh_write,
};

struct fx {
        struct vid_host host;
        struct vmbus_server *srv;
        struct vmbus_channel_offer_channel offer;
        struct vmbus_echo echo;
};

static void fx_setup(struct fx *f) {
        *f = (struct fx){ 0 };
        struct vid_partition_config cfg = { .ram_bytes = RAM_BYTES, .n_vps = 1 };
        char err[256];
        ASSERT_OK(vid_partition_create(&cfg, &f->host.p, err, sizeof err));
        void *ram;
        int fd;
        uint64_t off;
        ASSERT_OK(gm_map(f->host.p, 0, RAM_BYTES, &ram));
        ASSERT_OK(gm_fd_offset(f->host.p, 0, RAM_BYTES, &fd, &off));
        ASSERT_EQ(off, 0ull);
        ASSERT_OK(vmbus_sim_new_external(fd, ram, RAM_BYTES, 1, &f->host.sim));
        struct vmbus_server_config sc = { .vp_count = 1 };
        ASSERT_OK(vmbus_server_new(&sc, &vid_host_ops, &f->host, &f->srv));
        ASSERT_OK(vmbus_echo_init(&f->echo, 0));
        ASSERT_OK(vmbus_server_add_device(f->srv, &(struct vmbus_device_config){ .ops = &vmbus_echo_ops,
                                                                                 .data = &f->echo },
                                          NULL));
        ASSERT_EQ(vmbus_sim_connect(f->host.sim, VERSION_WIN10_V5_3), 1);
        ASSERT_EQ(vmbus_sim_request_offers(f->host.sim, &f->offer, 1), 1);
}

static void fx_free(struct fx *f) {
        vmbus_server_free(f->srv);
        vmbus_echo_fini(&f->echo);
        ASSERT_EQ(f->host.maps, 0u);
        vmbus_sim_free(f->host.sim);
        vid_partition_destroy(f->host.p);
}

TEST(vid_rings_echo_across_the_wrap) {
        struct fx f;
        fx_setup(&f);
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.host.sim, 1, f.offer.connection_id, 3, NULL, 0, &ch), 0);
        ASSERT_EQ(f.host.maps, 3u); /* the GPADL and two wrapped rings */
        uint8_t out[3000], in[4096];
        for (unsigned i = 0; i < 100; i++) { /* 8 KiB rings: wraps every few packets */
                size_t len = 1 + (i * 211) % sizeof out;
                for (size_t k = 0; k < len; k++)
                        out[k] = (uint8_t)(i + k);
                ASSERT_OK(vmbus_sim_ring_write(f.host.sim, &ch, VM_PKT_DATA_INBAND,
                                               VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, i, out, len));
                struct vmbus_packet p;
                ASSERT_GT(vmbus_sim_ring_wait(f.host.sim, &ch, in, sizeof in, &p, 5000), 0);
                ASSERT_EQ(p.type, VM_PKT_COMP);
                ASSERT_EQ(p.trans_id, (uint64_t)i);
                ASSERT_MEMEQ(vmbus_packet_payload(&p), out, len);
        }
        ASSERT_OK(vmbus_sim_close(f.host.sim, &ch));
        ASSERT_EQ(f.host.maps, 0u);
        fx_free(&f);
}

TEST(vid_gpadl_pages_checked_against_ram) {
        struct fx f;
        fx_setup(&f);
        uint64_t base = vmbus_sim_alloc_pages(f.host.sim, 4096);
        ASSERT_NE(base, 0ull);
        uint64_t *pfns = calloc(4096, sizeof *pfns);
        for (size_t i = 0; i < 4096; i++)
                pfns[i] = base + (i * 7) % 4096; /* scattered */
        ASSERT_EQ(vmbus_sim_create_gpadl(f.host.sim, 1, 0x1000, pfns, 4096, 4096 * 4096), 0);
        /* A page in the MMIO hole and one past the end of RAM: -EFAULT
         * from vid_map_pages, a failure status for the guest. */
        pfns[17] = VID_MMIO_HOLE_START >> 12;
        ASSERT_NE(vmbus_sim_create_gpadl(f.host.sim, 1, 0x1001, pfns, 32, 32 * 4096), 0);
        pfns[17] = RAM_BYTES >> 12;
        ASSERT_NE(vmbus_sim_create_gpadl(f.host.sim, 1, 0x1002, pfns, 32, 32 * 4096), 0);
        ASSERT_EQ(f.host.maps, 1u);
        /* Provider writes through the GPADL reach the guest's pages. */
        struct vmbus_sim_channel ch;
        ASSERT_EQ(vmbus_sim_open(f.host.sim, 1, f.offer.connection_id, 2, NULL, 0, &ch), 0);
        struct vmbus_gpadl *g;
        ASSERT_OK(vmbus_channel_gpadl_get(vmbus_server_open_channel(f.srv, 1), 0x1000, &g));
        uint8_t *d;
        size_t len;
        ASSERT_OK(vmbus_gpadl_buffer(g, 0, &d, &len));
        ASSERT_EQ(len, (size_t)16 << 20);
        d[100 * 4096 + 5] = 0xa5;
        uint8_t b = 0;
        ASSERT_OK(gm_read(f.host.p, pfns[100] * 4096 + 5, &b, 1));
        ASSERT_EQ(b, 0xa5);
        vmbus_gpadl_put(g);
        /* GPA-direct copies go through gm_read/gm_write. */
        uint8_t pkt[64] = { 0 };
        struct vmpacket_descriptor desc = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = 7, .len8 = 7 };
        uint32_t cnt = 1, range[2] = { 6000, 4000 };
        memcpy(pkt, &desc, sizeof desc);
        memcpy(pkt + 20, &cnt, 4);
        memcpy(pkt + 24, range, 8);
        memcpy(pkt + 32, &pfns[10], 8);
        memcpy(pkt + 40, &pfns[11], 8);
        memcpy(pkt + 48, &pfns[12], 8);
        struct vmbus_packet p = { .type = desc.type, .len = 56, .offset = 56, .data = pkt };
        struct vmbus_gpa_range_view v;
        ASSERT_EQ(vmbus_packet_parse_gpa_direct(&p, &v, 1), 1);
        struct vmbus_channel *hc = vmbus_server_open_channel(f.srv, 1);
        uint8_t src[6000], dst[6000];
        for (size_t i = 0; i < sizeof src; i++)
                src[i] = (uint8_t)(i * 13);
        ASSERT_OK(vmbus_channel_gpa_write(hc, &v, 0, src, sizeof src));
        ASSERT_OK(gm_read(f.host.p, pfns[11] * 4096, &b, 1)); /* byte 96 of the range */
        ASSERT_EQ(b, src[96]);
        ASSERT_OK(vmbus_channel_gpa_read(hc, &v, 0, dst, sizeof dst));
        ASSERT_MEMEQ(dst, src, sizeof src);
        ASSERT_ERROR(vmbus_channel_gpa_read(hc, &v, 1, dst, sizeof dst), EFAULT); /* past byte_count */
        free(pfns);
        fx_free(&f);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
