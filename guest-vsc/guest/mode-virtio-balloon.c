// SPDX-License-Identifier: MIT
/* vsc.mode=virtio-balloon: QEMU's virtio-balloon driven from our guest, the
 * baseline bench/bench-dm.c sets against Dynamic Memory (mode-balloon.c).
 * The device is found on the virtio-mmio transports of QEMU's microvm
 * (modern transport only: -global virtio-mmio.force-legacy=false) and set
 * up as virtio 1.x says (§3.1.1, §4.2.3): VIRTIO_F_VERSION_1 and no other
 * feature, the inflate (0) and deflate (1) split virtqueues (§2.7).
 *
 * Everything but one wait runs at CPL3, polling (at emulated CPL0 the
 * numbers would time the emulator): the config's num_pages every
 * VB_POLL_NS. While the device works through a queue of buffers the guest
 * sleeps in hlt at CPL0 and looks at the used ring every VB_WAIT_NS, as
 * Linux's driver sleeps: a vCPU spinning meanwhile makes QEMU's 4 KiB
 * discards each flush that vCPU's TLB by IPI, which on the PVM host made a
 * 512 MiB inflate take 10 s instead of 0.4. Being the peer at its best, a change goes to the
 * device as buffers of up to VB_PFNS_PER_BUF PFNs, a whole queue of them
 * per notify (Linux: 256 PFNs and one notify per buffer). The pages given
 * are those of a region the guest wrote first (so the host had to back
 * each page), then any the page pool has left.
 *
 * Options: vsc.balloon.touch_mib=N (16..2048, default 512),
 * vsc.balloon.seconds=S (1..86400, default 300: then the mode ends).
 * Report lines:
 *   balloon_ready device=virtio touched_mib=N
 *   balloon_change device=virtio pages=P us=T   (P: pages in the balloon;
 *     T: the guest's time from seeing the new num_pages to writing actual)
 *   balloon_end device=virtio pages=P */
#include "guest.h"

#define PAGE 4096ull

/* virtio-mmio registers (virtio 1.1 §4.2.2), QEMU microvm's transports. */
#define VIRTIO_MMIO_BASE 0xfeb00000ull
#define VIRTIO_MMIO_STRIDE 0x200ull
#define VIRTIO_MMIO_SLOTS 32u
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG 0x100
#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

#define VIRTIO_ID_BALLOON 5u
#define VIRTIO_F_VERSION_1 32u
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_FAILED 128u

/* struct virtio_balloon_config (§5.5.6): pages of 4 KiB. */
#define VIRTIO_BALLOON_NUM_PAGES (VIRTIO_MMIO_CONFIG + 0)
#define VIRTIO_BALLOON_ACTUAL (VIRTIO_MMIO_CONFIG + 4)
#define VB_INFLATEQ 0u
#define VB_DEFLATEQ 1u

/* Split virtqueue (§2.7), little-endian like the guest. */
struct virtq_desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc");
struct virtq_avail {
        uint16_t flags;
        uint16_t idx;
        uint16_t ring[];
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
struct virtq_used_elem {
        uint32_t id;
        uint32_t len;
};
struct virtq_used {
        uint16_t flags;
        uint16_t idx;
        struct virtq_used_elem ring[];
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem");

#define VB_QUEUE_MAX 128u       /* descriptors a queue (QEMU offers 128) */
#define VB_PFNS_PER_BUF 4096u   /* 16 KiB buffers: 16 MiB of balloon each */
#define VB_POLL_NS 20000ull     /* between reads of num_pages (each is an exit into QEMU) */
#define VB_DEVICE_NS 120000000000ull /* the most a queue of buffers may take */
#define VB_WAIT_NS 1000000ull   /* between looks at the used ring while the device works */

struct vb_queue {
        struct virtq_desc *desc;
        volatile struct virtq_avail *avail;
        volatile struct virtq_used *used;
        uint16_t index, num, avail_idx, used_idx;
};

struct vballoon {
        volatile uint8_t *mmio;
        struct vb_queue q[2];
        /* Two stacks of PFNs, each as deep as the pool: the pages the guest
         * may give and those in the balloon (distinct pool pages, so the
         * two never hold more than the pool). The top of `held` is also
         * what the device reads: buffers point into it. */
        uint32_t *spare, *held;
        uint64_t n_spare, n_held, cap;
        uint64_t touch_pages, seconds, deadline_ns;
        uint32_t seen; /* the num_pages last acted on */
        /* Handed from CPL3 to the wait at CPL0: k buffers notified on q. */
        struct vb_queue *wait_q;
        uint16_t wait_k;
        int err;
};

static uint32_t vb_r32(const struct vballoon *v, uint32_t off) {
        return *(volatile uint32_t *)(v->mmio + off);
}

static void vb_w32(struct vballoon *v, uint32_t off, uint32_t val) {
        *(volatile uint32_t *)(v->mmio + off) = val;
}

static void barrier(void) {
        __asm__ volatile("" ::: "memory"); /* x86 keeps stores (and loads) in order; the compiler must too */
}

/* Up to n pages more from the pool onto the spare stack, in the biggest
 * pieces it has. Returns the pages it got. */
static uint64_t vb_take_from_pool(struct vballoon *v, uint64_t n) {
        if (n > v->cap - v->n_spare - v->n_held)
                n = v->cap - v->n_spare - v->n_held; /* cannot happen (distinct pool pages): bounds the stacks */
        uint64_t got = 0, piece = n;
        while (got < n && piece) {
                if (piece > n - got)
                        piece = n - got;
                uint8_t *p = mem_alloc_pages_unzeroed(piece);
                if (!p) {
                        piece /= 2;
                        continue;
                }
                uint32_t pfn = (uint32_t)((uintptr_t)p / PAGE);
                for (uint64_t i = 0; i < piece; i++)
                        v->spare[v->n_spare++] = pfn + (uint32_t)i;
                got += piece;
        }
        return got;
}

/* The transport with a virtio-balloon behind it, or an error said once. */
static int vb_find(struct vballoon *v) {
        for (unsigned i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
                v->mmio = (volatile uint8_t *)(uintptr_t)(VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE);
                if (vb_r32(v, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC ||
                    vb_r32(v, VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BALLOON)
                        continue;
                uint32_t version = vb_r32(v, VIRTIO_MMIO_VERSION);
                if (version == 2)
                        return 0;
                return guest_fail(-EPROTONOSUPPORT,
                                  "virtio-balloon at 0x%lx has virtio-mmio version %u, not 2 (QEMU: -global "
                                  "virtio-mmio.force-legacy=false)",
                                  (uint64_t)(uintptr_t)v->mmio, version);
        }
        return guest_fail(-ENODEV, "no virtio-balloon among the virtio-mmio transports at 0x%llx (+0x%llx each, %u)",
                          VIRTIO_MMIO_BASE, VIRTIO_MMIO_STRIDE, VIRTIO_MMIO_SLOTS);
}

static void vb_w64(struct vballoon *v, uint32_t low, const volatile void *p) {
        vb_w32(v, low, (uint32_t)(uintptr_t)p);
        vb_w32(v, low + 4, (uint32_t)((uint64_t)(uintptr_t)p >> 32));
}

/* §4.2.3.2: one virtqueue; descriptor table, available and used rings get
 * a zeroed page each (identity map: the address is the guest physical). */
static int vb_queue_init(struct vballoon *v, uint16_t index) {
        struct vb_queue *q = &v->q[index];
        vb_w32(v, VIRTIO_MMIO_QUEUE_SEL, index);
        if (vb_r32(v, VIRTIO_MMIO_QUEUE_READY))
                return guest_fail(-EBUSY, "virtio-balloon queue %u is ready before we set it up", index);
        uint32_t max = vb_r32(v, VIRTIO_MMIO_QUEUE_NUM_MAX);
        if (max == 0)
                return guest_fail(-ENODEV, "virtio-balloon has no queue %u", index);
        uint16_t num = VB_QUEUE_MAX;
        while (num > max)
                num /= 2; /* a split queue's size is a power of 2 (§2.7) */
        uint8_t *mem = mem_alloc_pages(3);
        if (!mem)
                return guest_fail(-ENOMEM, "no pages for virtio-balloon queue %u", index);
        *q = (struct vb_queue){ .desc = (void *)mem, .avail = (void *)(mem + PAGE), .used = (void *)(mem + 2 * PAGE),
                                .index = index, .num = num };
        /* We poll the used ring: spare QEMU an interrupt per buffer (§2.7.7). */
        q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
        vb_w32(v, VIRTIO_MMIO_QUEUE_NUM, num);
        vb_w64(v, VIRTIO_MMIO_QUEUE_DESC_LOW, q->desc);
        vb_w64(v, VIRTIO_MMIO_QUEUE_DRIVER_LOW, q->avail);
        vb_w64(v, VIRTIO_MMIO_QUEUE_DEVICE_LOW, q->used);
        vb_w32(v, VIRTIO_MMIO_QUEUE_READY, 1);
        report("virtio_queue index=%u num=%u num_max=%u", index, num, max);
        return 0;
}

/* §3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
static int vb_device_init(struct vballoon *v) {
        vb_w32(v, VIRTIO_MMIO_STATUS, 0);
        if (vb_r32(v, VIRTIO_MMIO_STATUS) != 0)
                return guest_fail(-EIO, "virtio-balloon did not reset");
        vb_w32(v, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
        uint32_t status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
        vb_w32(v, VIRTIO_MMIO_STATUS, status);
        vb_w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        uint64_t features = vb_r32(v, VIRTIO_MMIO_DEVICE_FEATURES);
        vb_w32(v, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        features |= (uint64_t)vb_r32(v, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
        int r = -EPROTO;
        if (!(features >> VIRTIO_F_VERSION_1 & 1)) {
                guest_fail(r, "virtio-balloon does not offer VIRTIO_F_VERSION_1 (features 0x%lx)", features);
                goto failed;
        }
        /* VERSION_1 only: no stats queue, no deflate-on-OOM, no free page hints. */
        vb_w32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        vb_w32(v, VIRTIO_MMIO_DRIVER_FEATURES, 0);
        vb_w32(v, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        vb_w32(v, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
        status |= VIRTIO_STATUS_FEATURES_OK;
        vb_w32(v, VIRTIO_MMIO_STATUS, status);
        if (!(vb_r32(v, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
                guest_fail(r, "virtio-balloon refused FEATURES_OK (device features 0x%lx)", features);
                goto failed;
        }
        if ((r = vb_queue_init(v, VB_INFLATEQ)) < 0 || (r = vb_queue_init(v, VB_DEFLATEQ)) < 0)
                goto failed;
        vb_w32(v, VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_DRIVER_OK);
        report("virtio_balloon base=0x%lx version=2 device_features=0x%lx", (uint64_t)(uintptr_t)v->mmio, features);
        return 0;
failed:
        vb_w32(v, VIRTIO_MMIO_STATUS, status | VIRTIO_STATUS_FAILED);
        return r;
}

/* CPL0: the device's wait, in hlt (the queue is set up with interrupts
 * off: the timer wakes us). */
static long vb_wait_used(void *arg) {
        struct vballoon *v = arg;
        struct vb_queue *q = v->wait_q;
        uint64_t end = clock_ns() + VB_DEVICE_NS;
        while ((uint16_t)(q->used->idx - q->used_idx) < v->wait_k) {
                uint64_t now = clock_ns();
                if (now > end)
                        return guest_fail(-ETIMEDOUT, "virtio-balloon queue %u used %u of %u buffers", q->index,
                                          (uint16_t)(q->used->idx - q->used_idx), v->wait_k);
                clock_idle(now + VB_WAIT_NS);
        }
        return 0;
}

/* Hands the device pfns[0, n) on queue q, up to q->num buffers of up to
 * VB_PFNS_PER_BUF PFNs per notify, and waits until it has used them all
 * (the device reads the buffers in place: they must not change before). */
static int vb_queue_pfns(struct vballoon *v, struct vb_queue *q, const uint32_t *pfns, uint64_t n) {
        while (n) {
                uint16_t k = 0;
                for (; k < q->num && n; k++) {
                        uint32_t c = n < VB_PFNS_PER_BUF ? (uint32_t)n : VB_PFNS_PER_BUF;
                        q->desc[k] = (struct virtq_desc){ .addr = (uintptr_t)pfns, .len = c * 4 };
                        q->avail->ring[(uint16_t)(q->avail_idx + k) % q->num] = k;
                        pfns += c;
                        n -= c;
                }
                barrier(); /* descriptors and ring entries before the index that publishes them */
                q->avail_idx = (uint16_t)(q->avail_idx + k);
                q->avail->idx = q->avail_idx;
                barrier(); /* the index before the notify */
                vb_w32(v, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
                v->wait_q = q, v->wait_k = k;
                int r = (int)cpu_kernel_call(vb_wait_used, v);
                if (r < 0)
                        return r;
                barrier(); /* the used index before its entries */
                for (uint16_t i = 0; i < k; i++) {
                        uint32_t id = q->used->ring[(uint16_t)(q->used_idx + i) % q->num].id;
                        if (id >= k)
                                return guest_fail(-EPROTO, "virtio-balloon queue %u used descriptor %u, not ours",
                                                  q->index, id);
                }
                q->used_idx = (uint16_t)(q->used_idx + k);
        }
        return 0;
}

/* n more pages into the balloon (as many as the guest has, if fewer). */
static int vb_inflate(struct vballoon *v, uint64_t n) {
        if (v->n_spare < n)
                vb_take_from_pool(v, n - v->n_spare);
        if (n > v->n_spare)
                n = v->n_spare;
        uint32_t *top = v->held + v->n_held;
        memcpy(top, v->spare + v->n_spare - n, n * 4);
        v->n_spare -= n;
        int r = vb_queue_pfns(v, &v->q[VB_INFLATEQ], top, n);
        v->n_held += n;
        return r;
}

/* n pages out of the balloon: the guest's again (VIRTIO_BALLOON_F_MUST_TELL_HOST
 * is not negotiated, so telling the device is all there is to it, §5.5.6.3). */
static int vb_deflate(struct vballoon *v, uint64_t n) {
        if (n > v->n_held)
                n = v->n_held;
        uint32_t *top = v->held + v->n_held - n;
        int r = vb_queue_pfns(v, &v->q[VB_DEFLATEQ], top, n);
        memcpy(v->spare + v->n_spare, top, n * 4);
        v->n_spare += n;
        v->n_held -= n;
        return r;
}

static void vb_delay(uint64_t ns) {
        uint64_t end = clock_ns() + ns;
        while (clock_ns() < end)
                cpu_relax();
}

/* Follows num_pages until the time is up. A change the guest could only
 * partly make (no pages left) is not retried until num_pages changes. */
static int vb_serve(struct vballoon *v) {
        uint64_t deadline = clock_ns() + v->seconds * 1000000000ull;
        while (clock_ns() < deadline) {
                uint32_t want = vb_r32(v, VIRTIO_BALLOON_NUM_PAGES);
                if (want == v->seen) {
                        vb_delay(VB_POLL_NS);
                        continue;
                }
                uint64_t t0 = clock_ns();
                int r = want > v->n_held ? vb_inflate(v, want - v->n_held) : vb_deflate(v, v->n_held - want);
                if (r < 0)
                        return r;
                vb_w32(v, VIRTIO_BALLOON_ACTUAL, (uint32_t)v->n_held);
                uint64_t us = (clock_ns() - t0) / 1000;
                v->seen = want;
                report("balloon_change device=virtio pages=%lu us=%lu", v->n_held, us);
        }
        return 0;
}

/* The spare stack filled from the pool and a word written in each page. */
static int vb_touch(struct vballoon *v) {
        struct mem_stats m;
        mem_stats(&m);
        v->cap = m.pool_pages;
        uint64_t stack_pages = (v->cap * 4 + PAGE - 1) / PAGE;
        v->spare = mem_alloc_pages_unzeroed(stack_pages);
        v->held = mem_alloc_pages_unzeroed(stack_pages);
        if (!v->spare || !v->held)
                return guest_fail(-ENOMEM, "no pages for the balloon's page stacks");
        if (vb_take_from_pool(v, v->touch_pages) < v->touch_pages)
                return guest_fail(-ENOMEM, "the page pool has %lu of the %lu MiB to touch", v->n_spare >> 8,
                                  v->touch_pages >> 8);
        for (uint64_t i = 0; i < v->n_spare; i++)
                *(volatile uint64_t *)(uintptr_t)(v->spare[i] * PAGE) = v->spare[i];
        return 0;
}

/* At CPL3 from start to end: touching 512 MiB or writing a GiB of PFNs at
 * emulated CPL0 would take minutes, and the MMIO works the same. */
static long vb_run(void *arg) {
        struct vballoon *v = arg;
        int r = vb_find(v);
        if (r == 0)
                r = vb_touch(v);
        if (r == 0)
                r = vb_device_init(v);
        if (r < 0)
                return r;
        report("balloon_ready device=virtio touched_mib=%lu", v->touch_pages >> 8);
        if ((r = vb_serve(v)) < 0)
                return r;
        report("balloon_end device=virtio pages=%lu", v->n_held);
        return 0;
}

int mode_virtio_balloon(struct guest *g) {
        struct vballoon v = {
                .touch_pages = guest_opt(g, "vsc.balloon.touch_mib", 512, 16, 2048) << 8,
                .seconds = guest_opt(g, "vsc.balloon.seconds", 300, 1, 86400),
        };
        return (int)cpu_run_user(vb_run, &v, false);
}
