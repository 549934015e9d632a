/* SPDX-License-Identifier: MIT */
/* VMBus server internals shared by server.c, connection.c, channel.c and
 * gpadl.c. Not a public header.
 *
 * Locking (docs/vmbus.md "Threading"):
 *   serial  serialises the control path: one guest message, a device add or
 *           remove, a reset, at a time. Held across provider callbacks
 *           (open, close, reset, destroy) and thread joins.
 *   lock    a leaf lock for everything provider threads may also touch:
 *           the relid table, device channel arrays, GPADL table and
 *           reference counts, connection state, the reply queue, stats.
 *           Never held across a provider callback or a join.
 * Order: serial before lock. Fields that the control path changes are
 * written with both held, so either one is enough to read them. Only the
 * control path frees channels and devices, so it may use their pointers
 * with lock dropped. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/vmbus.h"
#include "vmbus/host.h"
#include "vmbus/provider.h"
#include "vmbus/ring.h"
#include "vmbus/server.h"

enum vmbus_conn_state {
        VMBUS_CONN_DISCONNECTED,
        VMBUS_CONN_CONNECTED,
        VMBUS_CONN_DISCONNECTING, /* UNLOAD/reset in progress: no new sub-channels */
};

enum vmbus_channel_state {
        VMBUS_CH_UNOFFERED, /* exists; not offered on this connection yet */
        VMBUS_CH_OFFERED,   /* offered (and closed) */
        VMBUS_CH_OPEN,
        VMBUS_CH_RESCINDED, /* device removed; waiting for RELID_RELEASED */
        VMBUS_CH_RELEASED,  /* the guest gave up on the offer (§4.7) */
};

/* Event connection id of a channel: unique per relid, like OpenVMM's
 * relid | SINT 2 << 12 (§4.4), and never a message connection id. */
#define VMBUS_CHANNEL_CONNECTION_ID(relid) (0x2000u | (relid))

struct vmbus_channel {
        struct vmbus_server *srv;
        struct vmbus_device *dev; /* NULL once rescinded */
        uint32_t relid;
        uint32_t connection_id;
        uint16_t sub_index;
        enum vmbus_channel_state state;
        unsigned n_gpadls; /* GPADLs created on this relid */

        /* while open */
        uint32_t target_vp; /* atomic access: MODIFYCHANNEL vs. signalling */
        uint32_t openid;
        uint8_t userdata[120];          /* OPENCHANNEL's, for a saved state */
        struct vmbus_gpadl *ring_gpadl; /* holds a reference */
        struct vmbus_host_mapping in_map, out_map;
        struct vmbus_ring_pair rings;
        int efd;
        void *data;
        /* atomic: restored from a saved state that marked the channel
         * failed (written by a library thread that served its provider
         * before every provider ran on its own device worker); counted as
         * broken at close. */
        int dead;
};

struct vmbus_device {
        struct vmbus_server *srv;
        struct vmbus_device *next;
        const struct vmbus_provider_ops *ops;
        struct guid class_id; /* the offer's if_type */
        struct guid instance;
        struct guid former_instance; /* vmbus_device_config's */
        void *data;
        uint8_t user_def[VMBUS_OFFER_USER_DEFINED_BYTES];
        bool removing; /* hot remove in progress: no new sub-channels */
        unsigned n_channels; /* primary + sub-channels; atomic reads without lock */
        struct vmbus_channel *channels[1 + VMBUS_MAX_SUBCHANNELS];
};

enum vmbus_gpadl_state {
        VMBUS_GPADL_PENDING,  /* header seen, waiting for bodies */
        VMBUS_GPADL_READY,
        VMBUS_GPADL_TEARDOWN, /* the guest asked; answered when refs reach 0 */
        VMBUS_GPADL_ORPHANED, /* out of the table (unload, release); freed at refs 0 */
};

struct vmbus_gpadl_range {
        uint32_t byte_count, byte_offset;
        size_t first_page, n_pages;
};

struct vmbus_gpadl {
        struct vmbus_server *srv;
        struct vmbus_gpadl *next; /* in srv->gpadls while in the table */
        uint32_t handle, relid;
        enum vmbus_gpadl_state state;
        unsigned refs; /* users (providers, rings); the table's own is implicit */
        /* accumulation of the range buffer (§4.5) */
        uint16_t rangecount;
        uint32_t buflen, filled;
        uint8_t *buf;
        /* complete */
        size_t n_pages;
        uint64_t *pfns;
        unsigned n_ranges;
        struct vmbus_gpadl_range *ranges;
        struct vmbus_host_mapping map;
};

struct vmbus_outmsg {
        unsigned vp;
        uint32_t len;
        uint8_t msg[VMBUS_MESSAGE_MAX_BYTES];
};

struct vmbus_server {
        pthread_mutex_t serial;
        pthread_mutex_t lock;
        const struct vmbus_host_ops *ops;
        void *host;
        unsigned vp_count;
        struct vmbus_limits lim;
        vmbus_tl_connect_fn tl_connect;
        void *tl_connect_opaque;

        enum vmbus_conn_state conn;
        uint32_t version;
        unsigned msg_vp; /* where control messages go (INITIATE_CONTACT target_vcpu) */
        bool offers_requested;

        struct vmbus_channel *relids[VMBUS_CHANNEL_MAX_RELID + 1];
        unsigned n_channels;
        struct vmbus_device *devices;

        struct vmbus_gpadl *gpadls;
        unsigned n_gpadls, n_pending, total_pages;

        struct vmbus_outmsg *deferred; /* ring of replies waiting for room */
        unsigned def_head, def_count, def_cap;
        int timer_fd;
        /* vmbus_server_quiesce: messages wait in the queue above, guest
         * messages are refused. */
        bool quiesced;
        /* vmbus_server_restore is applying a state: providers' restore_channel
         * may take GPADLs the guest already asked to tear down. */
        bool restoring;

        /* The host's dirty-page flag (vmbus_host_ops.dirty_flag), or NULL. */
        const atomic_bool *dirty;

        struct vmbus_server_stats stats;
};

/* server.c */
int vmbus_post_locked(struct vmbus_server *srv, const void *msg, size_t len);
unsigned vmbus_post_room_locked(const struct vmbus_server *srv);
int vmbus_flush_locked(struct vmbus_server *srv);
struct vmbus_channel *vmbus_channel_new_locked(struct vmbus_server *srv, struct vmbus_device *dev,
                                               uint16_t sub_index);
void vmbus_channel_free_locked(struct vmbus_channel *ch);
bool vmbus_vp_valid(const struct vmbus_server *srv, uint32_t vp);

/* connection.c */
bool vmbus_version_supported(uint32_t version);
void vmbus_send_offer_locked(struct vmbus_server *srv, struct vmbus_channel *ch);
void vmbus_disconnect(struct vmbus_server *srv);

/* channel.c */
void vmbus_msg_open(struct vmbus_server *srv, const void *msg, size_t len);
void vmbus_msg_close(struct vmbus_server *srv, const void *msg, size_t len);
void vmbus_msg_relid_released(struct vmbus_server *srv, const void *msg, size_t len);
void vmbus_msg_modify(struct vmbus_server *srv, const void *msg, size_t len);
void vmbus_channel_close(struct vmbus_channel *ch);
/* Restore (state.c): open ch as OPENCHANNEL o would, with the provider's
 * restore_channel instead of open and nothing sent to the guest (the
 * provider's channel comes back quiesced). */
int vmbus_channel_restore_open(struct vmbus_channel *ch, const struct vmbus_channel_open_channel *o, bool dead,
                               const struct vmstate_section *secs, size_t n, char *err, size_t errlen);
void vmbus_device_rescind(struct vmbus_device *dev);


/* gpadl.c */
void vmbus_msg_gpadl_header(struct vmbus_server *srv, const void *msg, size_t len);
void vmbus_msg_gpadl_body(struct vmbus_server *srv, const void *msg, size_t len);
void vmbus_msg_gpadl_teardown(struct vmbus_server *srv, const void *msg, size_t len);
struct vmbus_gpadl *vmbus_gpadl_find_locked(struct vmbus_server *srv, uint32_t handle);
void vmbus_gpadl_get_locked(struct vmbus_gpadl *g);
void vmbus_gpadl_put_locked(struct vmbus_gpadl *g);
/* Drop the GPADLs of one relid (or all with relid 0) without answering. */
void vmbus_gpadls_orphan_locked(struct vmbus_server *srv, uint32_t relid);
void vmbus_gpadls_free_all(struct vmbus_server *srv);
/* Restore (state.c): a GPADL whose range buffer is whole is parsed and
 * mapped as on its last GPADL_BODY, without answering the guest; 0 or
 * -errno (the GPADL stays in the table, pending). */
int vmbus_gpadl_complete_quiet(struct vmbus_gpadl *g);
/* Report the host's write of [off, off + len) of a contiguous mapping of
 * pfns[0..n_pages) as dirty guest pages, while the host tracks them
 * (docs/vm-state.md, "Dirty pages"); bytes past the pages are ignored. */
void vmbus_pages_dirty(struct vmbus_server *srv, const uint64_t *pfns, size_t n_pages, size_t off, size_t len);
/* Pure parser of a complete range buffer (fuzzed): fills ranges/n_pages. */
int vmbus_gpadl_parse_ranges(const uint8_t *buf, uint32_t buflen, uint16_t rangecount, size_t max_pages,
                             struct vmbus_gpadl_range *ranges, uint64_t *pfns, size_t *n_pages);
