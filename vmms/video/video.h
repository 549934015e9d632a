/* SPDX-License-Identifier: MIT */
/* The video console in vmms (docs/console.md): the display server of a VM
 * with a display (video.c) and org.vmstack.VMMS1.Display (video-dbus.c).
 * Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"

/* video.c: the display server of a VM with a display (docs/console.md) */
struct vmms_display;
struct vmms_display_status {
        bool server_running;
        bool video, keyboard, mouse; /* the guest's drivers */
        uint32_t width, height;      /* its mode; 0: none */
};
/* The worker is ready (or re-attached): start its display server. */
void vmms_display_start(struct vmms_vm *vm);
void vmms_display_worker_ended(struct vmms_vm *vm);
void vmms_display_on_event(struct vmms_vm *vm, struct json_object *ev);
void vmms_display_status(const struct vmms_vm *vm, struct vmms_display_status *out);
/* The web console's address for a browser: http(s)://ADDR:PORT/ (the
 * host's name for a wildcard --console-address); -ENAMETOOLONG. */
int vmms_display_web_url(const struct vmms_options *o, unsigned port, char *buf, size_t len);
/* The console password (the runtime directory's vnc.password). */
int vmms_display_password(struct vmms_vm *vm, char *out, size_t len);
/* A PNG of the screen into out_fd; call is answered when it is written.
 * -errno with a sentence when it cannot start. */
int vmms_display_screenshot(struct vmms_vm *vm, int out_fd, sd_bus_message *call, char *err, size_t errlen);
void vmms_display_free(struct vmms_vm *vm);
/* video-dbus.c: org.vmstack.VMMS1.Display */
int vmms_bus_display_register(struct vmms_daemon *d);
void vmms_bus_display_emit(struct vmms_vm *vm);
