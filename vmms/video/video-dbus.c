// SPDX-License-Identifier: MIT
/* org.vmstack.VMMS1.Display on each VM's object (docs/dbus-api.md
 * "Display"): where the VM's console is served, what its guest's
 * synthetic video, keyboard and mouse drivers do, and the methods a
 * console client needs: OpenDisplay (a connection to the VNC socket),
 * Password, Screenshot. The display server itself is video/video.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "core/daemon.h"
#include "video/video.h"

static int running_vm(struct vmms_daemon *d, sd_bus_message *m, struct vmms_vm **out, sd_bus_error *e) {
        struct vmms_vm *vm = vmms_daemon_find_path(d, sd_bus_message_get_path(m));
        if (!vm)
                return sd_bus_error_setf(e, VMMS_ERROR_NO_SUCH_VM, "the VM was deleted");
        if (!vm->config->display.enabled)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE,
                                         "VM '%s' has no display (set \"display\": {\"enabled\": true} while it is "
                                         "off: vmctl edit %s --display=on)",
                                         vm->config->name, vm->config->name);
        if (!vm->worker || !vmms_state_has_worker(vm->state) || vm->state == VMMS_STATE_STARTING)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_STATE, "VM '%s' is %s: its console exists while it runs",
                                         vm->config->name, vmms_state_to_string(vm->state));
        *out = vm;
        return 0;
}

/* OpenDisplay() -> h: a connection to the VNC socket (RFB with VNC
 * authentication: the password is still needed). */
static int do_open(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm = NULL;
        char path[PATH_MAX];
        int r = running_vm(d, m, &vm, e);
        if (r < 0)
                return r;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (vmms_vm_dir(vm, "vnc.sock", path, sizeof path) < 0 || strlen(path) >= sizeof sa.sun_path)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "the VNC socket's path is too long");
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED,
                                         "VM '%s': the display server does not answer on %s (%m); it is started "
                                         "again shortly, see the worker log",
                                         vm->config->name, path);
        return sd_bus_reply_method_return(m, "h", fd);
}

static int do_password(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm = NULL;
        char pw[128];
        int r = running_vm(d, m, &vm, e);
        if (r < 0)
                return r;
        if ((r = vmms_display_password(vm, pw, sizeof pw)) < 0)
                return sd_bus_error_setf(e, VMMS_ERROR_FAILED, "VM '%s': the console password cannot be read: %s",
                                         vm->config->name, strerror(-r));
        r = sd_bus_reply_method_return(m, "s", pw);
        explicit_bzero(pw, sizeof pw);
        return r;
}

/* Screenshot(h png): the screen as a PNG written into the caller's file;
 * the reply comes once it is written. */
static int do_screenshot(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e) {
        struct vmms_vm *vm = NULL;
        int fd, r;
        char err[512];
        if ((r = sd_bus_message_rewind(m, true)) < 0 || (r = sd_bus_message_read(m, "h", &fd)) < 0)
                return r;
        if ((r = running_vm(d, m, &vm, e)) < 0)
                return r;
        int acc = fcntl(fd, F_GETFL);
        if (acc < 0 || (acc & O_ACCMODE) == O_RDONLY)
                return sd_bus_error_setf(e, VMMS_ERROR_INVALID_ARGUMENT, "Screenshot needs a file open for writing");
        if ((r = vmms_display_screenshot(vm, fd, m, err, sizeof err)) < 0)
                return sd_bus_error_setf(e, r == -EBUSY ? VMMS_ERROR_BUSY : VMMS_ERROR_FAILED, "%s", err);
        return 1; /* answered when vmdisplay is done */
}

static int method_open(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_MANAGE, do_open, e);
}

static int method_password(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_MANAGE, do_password, e);
}

/* Seeing the screen is reading, as watching the console is. */
static int method_screenshot(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        struct vmms_vm *vm = userdata;
        return vmms_auth_run(vm->d, m, VMMS_POLKIT_ACTION_READ, do_screenshot, e);
}

#define VM_OF(userdata) ((struct vmms_vm *)(userdata))
#define PROP(name)                                                                                                  \
        static int name(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply, \
                        void *userdata, sd_bus_error *e)

static bool served(const struct vmms_vm *vm) {
        return vm->config->display.enabled && vm->worker && vmms_state_has_worker(vm->state) &&
               vm->state != VMMS_STATE_STARTING;
}

PROP(prop_enabled) {
        return sd_bus_message_append(reply, "b", (int)VM_OF(userdata)->config->display.enabled);
}
PROP(prop_resolution) {
        const struct vm_display_config *c = &VM_OF(userdata)->config->display;
        return sd_bus_message_append(reply, "(uu)", c->width, c->height);
}
PROP(prop_vnc_socket) {
        char sock[PATH_MAX] = "";
        if (served(VM_OF(userdata)) && vmms_vm_dir(VM_OF(userdata), "vnc.sock", sock, sizeof sock) < 0)
                sock[0] = 0;
        return sd_bus_message_append(reply, "s", sock);
}
PROP(prop_vnc_address) {
        char a[32] = "";
        const struct vmms_vm *vm = VM_OF(userdata);
        if (served(vm) && vm->config->display.vnc_port)
                snprintf(a, sizeof a, "127.0.0.1:%u", vm->config->display.vnc_port);
        return sd_bus_message_append(reply, "s", a);
}
PROP(prop_web_url) {
        char a[320] = "";
        const struct vmms_vm *vm = VM_OF(userdata);
        if (served(vm) && vm->config->display.web_port &&
            vmms_display_web_url(&vm->d->opt, vm->config->display.web_port, a, sizeof a) < 0)
                a[0] = 0;
        return sd_bus_message_append(reply, "s", a);
}
PROP(prop_server_running) {
        struct vmms_display_status s;
        vmms_display_status(VM_OF(userdata), &s);
        return sd_bus_message_append(reply, "b", (int)s.server_running);
}
PROP(prop_guest) {
        struct vmms_display_status s;
        vmms_display_status(VM_OF(userdata), &s);
        bool v = !strcmp(prop, "GuestVideo") ? s.video : !strcmp(prop, "GuestKeyboard") ? s.keyboard : s.mouse;
        return sd_bus_message_append(reply, "b", (int)v);
}
PROP(prop_mode) {
        struct vmms_display_status s;
        vmms_display_status(VM_OF(userdata), &s);
        return sd_bus_message_append(reply, "(uu)", s.width, s.height);
}
#undef PROP

#define EMITS SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE
static const sd_bus_vtable display_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Enabled", "b", prop_enabled, 0, EMITS),
        SD_BUS_PROPERTY("Resolution", "(uu)", prop_resolution, 0, EMITS),
        SD_BUS_PROPERTY("VncSocket", "s", prop_vnc_socket, 0, EMITS),
        SD_BUS_PROPERTY("VncAddress", "s", prop_vnc_address, 0, EMITS),
        SD_BUS_PROPERTY("WebUrl", "s", prop_web_url, 0, EMITS),
        SD_BUS_PROPERTY("ServerRunning", "b", prop_server_running, 0, EMITS),
        SD_BUS_PROPERTY("GuestVideo", "b", prop_guest, 0, EMITS),
        SD_BUS_PROPERTY("GuestKeyboard", "b", prop_guest, 0, EMITS),
        SD_BUS_PROPERTY("GuestMouse", "b", prop_guest, 0, EMITS),
        SD_BUS_PROPERTY("Mode", "(uu)", prop_mode, 0, EMITS),
        SD_BUS_METHOD_WITH_ARGS("OpenDisplay", SD_BUS_NO_ARGS, SD_BUS_RESULT("h", fd), method_open,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Password", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", password), method_password,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Screenshot", SD_BUS_ARGS("h", png), SD_BUS_NO_RESULT, method_screenshot,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
#undef EMITS

void vmms_bus_display_emit(struct vmms_vm *vm) {
        if (vm->d->bus)
                (void)sd_bus_emit_properties_changed(vm->d->bus, vm->path, VMMS_DISPLAY_IFACE, "VncSocket",
                                                     "VncAddress", "WebUrl", "ServerRunning", "GuestVideo",
                                                     "GuestKeyboard", "GuestMouse", "Mode", NULL);
}

int vmms_bus_display_register(struct vmms_daemon *d) {
        int r = sd_bus_add_fallback_vtable(d->bus, NULL, VMMS_VM_PATH_PREFIX, VMMS_DISPLAY_IFACE, display_vtable,
                                           vmms_bus_find_vm, d);
        if (r < 0)
                return log_error_errno(r, "cannot register the display interface: %m");
        return 0;
}
