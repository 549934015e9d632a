/* SPDX-License-Identifier: MIT */
/* The fake worker's state and the helpers its files share: events, replies
 * and the console (vmms-fake-vmwp.c, with the main loop), vmms's requests
 * (vmms-fake-ops.c), the config message, its fds and the display
 * (vmms-fake-setup.c). What the fake does: vmms-fake-vmwp.c's top. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/vmstate.h"

#define MAX_CONSOLE_CLIENTS 1 /* as vmwp: one client at a time */
#define FAKE_STATE_MAGIC "FAKEVMRS"
#define FAKE_STATE_BYTES (256u * 1024u)
#define FAKE_STATE_TAG VMSTATE_TAG('F', 'A', 'K', 'E')

struct fake {
        char parents[4096]; /* report_parents' lines, printed once the console log is open */
        char nics[1024];    /* report_nics' lines, as well */
        char files[1024];   /* report_files' lines (boot image, DVD ISOs), as well */
        int ctl, ctl_listen, con_listen, con_log;
        int con[MAX_CONSOLE_CLIENTS];
        uint64_t con_clients, con_since_us; /* as vmwp's "console-status" */
        char name[VM_NAME_MAX + 1];
        char cmdline[VM_CMDLINE_MAX];
        bool paused, ready, shutdown_ic, reattach, frozen;
        int vss; /* -1: no integration.vss; else fake.vss */
        int fcopy; /* -1: no integration.fcopy; else fake.fcopy */
        long hvsock_port; /* fake.hvsock_port with hvsock.enabled, else -1 */
        pid_t display_pid; /* fake-display-worker, 0: none */
        bool display_video;
        uint64_t fcopy_at; /* when the pending "fcopy" event goes */
        json_object *fcopy_ev;
        int mig_fd; /* an incoming migration's stream, until configure() took it */
        int pc_fd;  /* a post-copy's stream after the commit, read until its end */
        uint64_t ready_at, exit_at, hb_next, pending_exit_at, chatter_next;
        uint64_t last_beat_us; /* CLOCK_REALTIME of the last "ok" heartbeat */
        long beats;            /* heartbeats sent */
        int exit_status, pending_exit_status;
        const char *pending_reason;
        /* Dynamic Memory (MiB; dm_max 0: not configured) */
        uint64_t dm_startup, dm_min, dm_max, dm_target, dm_assigned, dm_hot_added;
        char dm_note[128];
        struct fake_hotplug *hp; /* its disks and NICs */
        uint32_t cpu_limit;      /* the processor limit, as vmwp's "processor" op keeps it */
        int disk_fds[VM_DISKS_MAX]; /* the configuration's images, as vmms sent them */
        size_t n_disk_fds;
        unsigned vcpus, n_disks, n_nics; /* for "stats" (vmms-fake-stats.c) */
        uint64_t stats_calls;
        bool restored;    /* the config message named a "saved_state" or "migrate_incoming" */
        const char *boot; /* a firmware VM's boot (vmms-fake-firmware.c), NULL: none */
        bool firmware;    /* boot.kind "firmware": no cmdline, so saves as fake.vmstate */
};

/* fake.NAME's value in the VM's cmdline: =N, 1 without a value, def without it. */
long fake_knob(const struct fake *f, const char *name, long def);
/* fake.NAME=WORD's word (up to a space) in out; false without one. */
bool fake_knob_word(const struct fake *f, const char *name, char *out, size_t len);
uint64_t fake_now_ms(void);
/* The "exit" event (with the final counters once ready), then exit(status). */
_Noreturn void fake_finish(struct fake *f, int status, const char *reason);
/* Sends m (taken) to vmms; a failed send is a lost control connection. */
void fake_send_msg(struct fake *f, json_object *m);
/* s to the console log and the attached console client. */
void fake_console_out(struct fake *f, const char *s);
/* A reply to req (its id), ok or with errno and error. */
json_object *fake_reply(json_object *req, bool ok, int err, const char *error);
/* The "state" event: running or paused. */
void fake_state_event(struct fake *f);
/* finish(status, reason) 20 ms from now, from the main loop. */
void fake_schedule_exit(struct fake *f, int status, const char *reason);
/* Takes the console clients that are queued (one at a time, as vmwp). */
void fake_accept_console(struct fake *f);

/* vmms-fake-ops.c: one request with its fds (taken), answered. */
void fake_handle_request(struct fake *f, json_object *req, int *fds, size_t n_fds);
/* An incoming migration's stream fd (taken), read as vmwp would. */
void fake_migrate_receive(struct fake *f, int fd);
/* The Dynamic Memory "memory" event. */
void fake_dm_event(struct fake *f);

/* vmms-fake-setup.c: reads the config message and its fds from vmms and
 * sets the fake up (the console socket at serial "socket:PATH"). */
void fake_configure(struct fake *f, const char *serial);
/* The "display" event (fake-display-worker's screen). */
void fake_display_event(struct fake *f);
