// SPDX-License-Identifier: MIT
/* Synthetic video, keyboard and mouse in the worker (docs/console.md):
 * the three VMBus devices (vsp/video, vsp/input), the VRAM they share with
 * the guest, and the display socket a display server (vmdisplay) connects
 * to (common/display.h).
 *
 * The VRAM is a memfd the worker maps; when the guest places its
 * framebuffer in the VMBus MMIO window the video device's thread maps it
 * there as vid device memory (a KVM slot: the guest draws with no exit).
 * The display server gets a read-only descriptor of it and reads the
 * pixels itself; the worker only tells it the mode and what changed.
 *
 * The display socket is served by display-server.c on its own thread
 * ("display" policy) through the ops here: the guest's mode and drivers,
 * its dirty rectangles, and a client's keys and pointer for the guest.
 * While nobody watches, the guest is told not to report what it draws. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/display.h"
#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/proto.h"
#include "inputvsp/inputvsp.h"
#include "vid/vid.h"
#include "videovsp/videovsp.h"
#include "emit.h"
#include "vm-internal.h"
#include "vmwp/display-server.h"
#include "vmwp/sandbox-providers.h"
#include "vmwp/sandbox.h"

struct vmwp_display {
        struct vmwp_vm *vm;
        int vram_fd, vram_ro_fd;
        uint8_t *vram;
        int vram_slot; /* vid device memory id (video thread), -1 */
        uint64_t vram_gpa;
        struct videovsp *video;
        struct inputvsp *input;
        int listen_fd;
        struct vmwp_dsrv *server;
        /* Display thread: what vmms was last told ("display" event). */
        bool reported;
        uint32_t reported_status;
        struct display_mode reported_mode;
};

/* ---- the devices' callbacks ---------------------------------------------- */

/* Video thread, its lock held (or the launcher thread of a restore). A
 * place that cannot be mapped leaves the VRAM where it was. */
static int map_vram(void *opaque, uint64_t gpa) {
        struct vmwp_display *d = opaque;
        int old = d->vram_slot;
        if (old >= 0) {
                int r = vid_devmem_unmap(d->vm->p, old);
                if (r < 0)
                        return r;
                d->vram_slot = -1;
        }
        int r = vid_devmem_map(d->vm->p, gpa, VIDEOVSP_VRAM_BYTES, d->vram);
        if (r < 0) {
                if (old >= 0)
                        d->vram_slot = vid_devmem_map(d->vm->p, d->vram_gpa, VIDEOVSP_VRAM_BYTES, d->vram);
                return r;
        }
        d->vram_slot = r;
        d->vram_gpa = gpa;
        return 0;
}

static void devices_changed(void *opaque) {
        struct vmwp_display *d = opaque;
        if (d->server)
                vmwp_dsrv_kick(d->server);
}

static const struct videovsp_owner_ops video_ops = { .map_vram = map_vram, .changed = devices_changed };
static const struct inputvsp_owner_ops input_ops = { .changed = devices_changed };

/* ---- the display server's ops (display thread) -------------------------- */

static uint32_t current_status(struct vmwp_display *d, const struct videovsp_state *vs) {
        bool kbd = false, mouse = false;
        inputvsp_status(d->input, &kbd, &mouse);
        return (vs->connected ? DISPLAY_STATUS_VIDEO : 0) | (kbd ? DISPLAY_STATUS_KEYBOARD : 0) |
               (mouse ? DISPLAY_STATUS_MOUSE : 0);
}

static void ds_state(void *opaque, struct display_mode *mode, uint32_t *status) {
        struct vmwp_display *d = opaque;
        struct videovsp_state vs;
        videovsp_get_state(d->video, &vs);
        *mode = vs.mode;
        *status = current_status(d, &vs);
}

static size_t ds_take_dirty(void *opaque, struct display_rect *out, size_t max, bool full) {
        struct vmwp_display *d = opaque;
        return videovsp_take_dirty(d->video, out, max, full);
}

static void ds_watch(void *opaque, bool on) {
        struct vmwp_display *d = opaque;
        videovsp_watch(d->video, on);
}

static int ds_key(void *opaque, uint32_t scancode, bool down) {
        struct vmwp_display *d = opaque;
        return inputvsp_key(d->input, scancode, down);
}

/* Pixels of the guest's mode; before it set one, of the configured
 * resolution. */
static int ds_pointer(void *opaque, uint32_t x, uint32_t y, uint32_t buttons, int32_t wheel) {
        struct vmwp_display *d = opaque;
        struct videovsp_state vs;
        videovsp_get_state(d->video, &vs);
        uint32_t w = vs.mode.active ? vs.mode.width : d->vm->cfg.display.width;
        uint32_t h = vs.mode.active ? vs.mode.height : d->vm->cfg.display.height;
        return inputvsp_pointer(d->input, x, y, w, h, buttons, wheel);
}

/* vmms hears of the drivers and the mode (a "display" event), not of
 * every rectangle. */
static void ds_kicked(void *opaque) {
        struct vmwp_display *d = opaque;
        struct videovsp_state vs;
        videovsp_get_state(d->video, &vs);
        uint32_t status = current_status(d, &vs);
        struct display_mode mode = vs.mode.active ? vs.mode : (struct display_mode){ 0 };
        if (d->reported && status == d->reported_status && !memcmp(&mode, &d->reported_mode, sizeof mode))
                return;
        d->reported = true;
        d->reported_status = status;
        d->reported_mode = mode;
        struct vmwp_vm *vm = d->vm;
        pthread_mutex_lock(&vm->guest_lock);
        vm->guest.display_changed = true;
        pthread_mutex_unlock(&vm->guest_lock);
        (void)!write(vm->guest_event_fd, &(uint64_t){ 1 }, sizeof(uint64_t));
}

static const struct vmwp_dsrv_ops ds_ops = { .state = ds_state, .take_dirty = ds_take_dirty, .watch = ds_watch,
                                             .key = ds_key, .pointer = ds_pointer, .kicked = ds_kicked };

static int display_thread_start(void *opaque) {
        struct vmwp_display *d = opaque;
        return d->vm->sandbox ? sandbox_thread_policy(d->vm->sandbox, "display") : 0;
}

/* ---- lifecycle --------------------------------------------------------------- */

static int create_vram(struct vmwp_display *d) {
        d->vram_fd = memfd_create("vmwp-vram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (d->vram_fd < 0)
                return -errno;
        if (ftruncate(d->vram_fd, VIDEOVSP_VRAM_BYTES) < 0 ||
            fcntl(d->vram_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        void *p = mmap(NULL, VIDEOVSP_VRAM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, d->vram_fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        d->vram = p;
        /* The display server's descriptor: the same pages, opened read-only
         * (a writable shared mapping of it fails), while /proc is there. */
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", d->vram_fd);
        d->vram_ro_fd = open(path, O_RDONLY | O_CLOEXEC);
        return d->vram_ro_fd < 0 ? -errno : 0;
}

int vmwp_vm_add_display(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen) {
        if (!vm->cfg.display.enabled)
                return 0;
        struct vmwp_display *d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        *d = (struct vmwp_display){ .vm = vm, .vram_fd = -1, .vram_ro_fd = -1, .vram_slot = -1, .listen_fd = -1 };
        vm->display = d;
        int r;
        if ((r = create_vram(d)) < 0)
                return errorf(err, errlen, r, "display: the VRAM: %s", strerror(-r));
        if (vm->cfg.display.socket[0] &&
            (d->listen_fd = unix_listen(vm->cfg.display.socket, SOCK_SEQPACKET | SOCK_NONBLOCK, 4, 0600)) < 0)
                return errorf(err, errlen, d->listen_fd, "display.socket: cannot listen on %s: %s",
                              vm->cfg.display.socket,
                              d->listen_fd == -EEXIST ? "it exists and is not a socket" : strerror(-d->listen_fd));
        if (vm->sandbox && ((r = sandbox_register_policy(vm->sandbox, &sandbox_video_policy)) < 0 ||
                            (r = sandbox_register_policy(vm->sandbox, &sandbox_display_policy)) < 0))
                return errorf(err, errlen, r, "sandbox: display policies: %s", strerror(-r));
        /* The display thread starts under the sandbox (vmwp_vm_display_start),
         * after the devices exist; they kick it from the start. */
        const struct vmwp_dsrv_config sc = { .listen_fd = d->listen_fd, .fb_fd = d->vram_ro_fd,
                                             .fb_bytes = VIDEOVSP_VRAM_BYTES, .ops = &ds_ops, .opaque = d,
                                             .on_start = display_thread_start };
        if ((r = vmwp_dsrv_new(&sc, &d->server)) < 0)
                return errorf(err, errlen, r, "display: its thread: %s", strerror(-r));
        const struct videovsp_config vc = { .default_width = (uint16_t)vm->cfg.display.width,
                                            .default_height = (uint16_t)vm->cfg.display.height,
                                            .vram = d->vram, .vram_fd = d->vram_fd };
        if ((r = videovsp_new(vm->vmbus, &vc, &video_ops, d, &d->video)) < 0)
                return errorf(err, errlen, r, "synthetic video: %s", strerror(-r));
        if ((r = vmwp_devices_add(&vm->devices, &videovsp_device_ops, d->video)) < 0)
                return errorf(err, errlen, r, "synthetic video: device table: %s", strerror(-r));
        const struct inputvsp_config ic = { .keyboard = true, .mouse = true };
        if ((r = inputvsp_new(vm->vmbus, &ic, &input_ops, d, &d->input)) < 0)
                return errorf(err, errlen, r, "synthetic keyboard and mouse: %s", strerror(-r));
        if ((r = vmwp_devices_add(&vm->devices, &inputvsp_device_ops, d->input)) < 0)
                return errorf(err, errlen, r, "synthetic keyboard and mouse: device table: %s", strerror(-r));
        return 0;
}

/* Under the sandbox: the thread narrows itself to "display" first. */
int vmwp_vm_display_start(struct vmwp_vm *vm) {
        return vm->display ? vmwp_dsrv_start(vm->display->server) : 0;
}

/* Before the VMBus server goes: no device call from the display thread
 * after this. */
void vmwp_vm_display_stop(struct vmwp_vm *vm) {
        struct vmwp_display *d = vm->display;
        if (!d)
                return;
        vmwp_dsrv_stop(d->server);
}

/* After vmbus_server_free. */
void vmwp_vm_display_free(struct vmwp_vm *vm) {
        struct vmwp_display *d = vm->display;
        if (!d)
                return;
        vmwp_dsrv_free(d->server);
        videovsp_free(d->video);
        inputvsp_free(d->input);
        if (d->vram_slot >= 0 && vm->p)
                (void)vid_devmem_unmap(vm->p, d->vram_slot);
        if (d->vram)
                munmap(d->vram, VIDEOVSP_VRAM_BYTES);
        safe_close(d->vram_fd);
        safe_close(d->vram_ro_fd);
        safe_close(d->listen_fd);
        free(d);
        vm->display = NULL;
}

/* A "display" object for a stats reply. */
void vmwp_vm_display_stats(struct vmwp_vm *vm, struct json_object *into) {
        struct vmwp_display *d = vm->display;
        if (!d)
                return;
        struct json_object *o = device_stat_object(into, "display");
        if (!o)
                return;
        struct vmwp_dsrv_stats ds;
        vmwp_dsrv_get_stats(d->server, &ds);
        device_stat_bool(o, "connected", ds.connected);
#define A(k) device_stat_add(o, #k, ds.k)
        A(clients), A(snapshots), A(keys), A(pointers), A(input_refused), A(bad_messages), A(updates), A(rects);
        A(overruns);
#undef A
        /* The "display" events to vmms (run.c, this thread's). */
        device_stat_add(o, "events", vm->guest_rates[VMWP_GEV_DISPLAY].events);
        device_stat_add(o, "events_coalesced", vm->guest_rates[VMWP_GEV_DISPLAY].coalesced);
}

/* What a "display" event and the display op report: the drivers and the
 * mode. */
int vmwp_vm_display_status(struct vmwp_vm *vm, struct json_object *into) {
        struct vmwp_display *d = vm->display;
        if (!d)
                return -ENOTSUP;
        struct videovsp_state vs;
        videovsp_get_state(d->video, &vs);
        uint32_t st = current_status(d, &vs);
        json_object_object_add(into, "video", json_object_new_boolean(st & DISPLAY_STATUS_VIDEO));
        json_object_object_add(into, "keyboard", json_object_new_boolean(st & DISPLAY_STATUS_KEYBOARD));
        json_object_object_add(into, "mouse", json_object_new_boolean(st & DISPLAY_STATUS_MOUSE));
        json_object_object_add(into, "active", json_object_new_boolean(vs.mode.active));
        json_object_object_add(into, "width", json_object_new_int64(vs.mode.active ? vs.mode.width : 0));
        json_object_object_add(into, "height", json_object_new_int64(vs.mode.active ? vs.mode.height : 0));
        json_object_object_add(into, "watched", json_object_new_boolean(vs.watched));
        return 0;
}

/* The "display" event: the drivers and the mode when it goes. */
struct json_object *vmwp_display_event(struct vmwp_vm *vm) {
        struct json_object *ev = proto_event_new(PROTO_EV_DISPLAY);
        if (ev && vmwp_vm_display_status(vm, ev) < 0)
                ev = (json_object_put(ev), NULL);
        return ev;
}

void vmwp_display_emit(struct vmwp_vm *vm, const struct vmwp_guest_events *g, struct vmwp_emit *e) {
        if (g->display_changed)
                vmwp_emit_changed(e, VMWP_GEV_DISPLAY);
}
