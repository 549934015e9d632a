/* SPDX-License-Identifier: MIT */
/* The VMBus server's only way to reach the guest: a small ops struct.
 *
 * Production (vmwp) uses vmbus_host_hv_new(), which implements these with
 * hvshim (SynIC messages and events) and vid (guest memory). Tests, fuzzers
 * and provider unit tests use the simulated guest in vmbustest/sim.h (the
 * tests' own library, tests/lib/vmbustest). Nothing in the server touches
 * guest memory or the SynIC any other way. */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A contiguous host view of a list of guest pages (same meaning as struct
 * vid_pages): n_pages in the first mapping, map_len bytes mapped in total
 * including the wrap copy. */
struct vmbus_host_mapping {
        void *base;
        size_t n_pages;
        size_t map_len;
};

/* Map the pages from wrap_from to the end a second time right after the
 * first mapping (ring data areas, §5.2: a packet never has to be split). */
#define VMBUS_MAP_WRAP 1u

/* Guest -> host message (HvPostMessage) for one connection id; returns the
 * HV_STATUS_* the guest's hypercall sees. Called on a VP thread. */
typedef uint16_t (*vmbus_host_message_fn)(void *opaque, uint32_t connection_id, unsigned vp_index,
                                          const void *msg, size_t len);

struct vmbus_host_ops {
        /* Post a VMBus control message (header first) to the VMBus SINT of a
         * VP. 0 when delivered or queued, -ENOBUFS when that VP's queue is
         * full (the server keeps it and retries), other -errno: dropped. */
        int (*post_message)(void *host, unsigned vp_index, const void *msg, size_t len);
        /* Route HvPostMessage(connection_id) to fn; fn == NULL removes it. */
        int (*set_message_handler)(void *host, uint32_t connection_id, vmbus_host_message_fn fn, void *opaque);
        /* HvSignalEvent(connection_id) makes efd readable from now on.
         * Called from inside a message handler (OPENCHANNEL, CLOSECHANNEL,
         * UNLOAD), before the reply is posted. */
        int (*register_event)(void *host, uint32_t connection_id, int efd);
        int (*unregister_event)(void *host, uint32_t connection_id);
        /* Set event flag `relid` of the VMBus SINT on a VP and raise it
         * (§3.4). Must be callable from any thread without locks of ours. */
        int (*signal_event)(void *host, unsigned vp_index, uint32_t relid);
        /* Map guest pages contiguously; -EFAULT if a PFN is not guest RAM. */
        int (*map_pages)(void *host, const uint64_t *pfns, size_t n_pages, unsigned flags, size_t wrap_from,
                         struct vmbus_host_mapping *out);
        void (*unmap_pages)(void *host, struct vmbus_host_mapping *m);
        /* Bounds-checked copies; -EFAULT outside guest RAM. */
        int (*read)(void *host, uint64_t gpa, void *buf, size_t len);
        int (*write)(void *host, uint64_t gpa, const void *buf, size_t len); /* marks what it writes */
        /* Dirty-page tracking for live migration (docs/vm-state.md, "Dirty
         * pages"); both optional (a host without them never tracks).
         * dirty_flag: a flag, true while the host wants to know which guest
         * pages we write, valid as long as the host; the server reads it
         * with one relaxed load before finding the GPAs of a write.
         * mark_dirty: [gpa, gpa + len) was written through a mapping from
         * map_pages (called after the write). Any thread, no locks of ours. */
        const atomic_bool *(*dirty_flag)(void *host);
        void (*mark_dirty)(void *host, uint64_t gpa, uint64_t len);
};

/* ---- production implementation over hvshim + vid (host-hv.c) ---------- */

struct hvshim;
struct vid_partition;
struct vmbus_host_hv;

extern const struct vmbus_host_ops vmbus_host_hv_ops;

/* The host context to pass with vmbus_host_hv_ops to vmbus_server_new().
 * Must outlive the server; free it before hvshim_destroy(). */
int vmbus_host_hv_new(struct hvshim *hv, struct vid_partition *p, struct vmbus_host_hv **out);
void vmbus_host_hv_free(struct vmbus_host_hv *h);
