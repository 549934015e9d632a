// SPDX-License-Identifier: MIT
/* vmctl display VM: where a VM's console is served (org.vmstack.VMMS1.Display,
 * docs/console.md), its password with --password, what the guest's video,
 * keyboard and mouse drivers do. vmctl screenshot VM FILE: the screen as a
 * PNG (Display.Screenshot writes it into the file vmctl opened). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "vmctl/vmctl.h"
#include "vmms/names.h"

struct display_info {
        int enabled, running, video, keyboard, mouse;
        uint32_t res_w, res_h, mode_w, mode_h;
        char *socket, *vnc, *web;
};

static int get_bool(struct vmctl *c, const char *path, const char *prop, int *out) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_trivial(c->bus, VMMS_BUS_NAME, path, VMMS_DISPLAY_IFACE, prop, &e, 'b', out);
        sd_bus_error_free(&e);
        return r;
}

static int get_str(struct vmctl *c, const char *path, const char *prop, char **out) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_get_property_string(c->bus, VMMS_BUS_NAME, path, VMMS_DISPLAY_IFACE, prop, &e, out);
        sd_bus_error_free(&e);
        return r;
}

static int get_pair(struct vmctl *c, const char *path, const char *prop, uint32_t *a, uint32_t *b) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        int r = sd_bus_get_property(c->bus, VMMS_BUS_NAME, path, VMMS_DISPLAY_IFACE, prop, &e, &reply, "(uu)");
        if (r >= 0)
                r = sd_bus_message_read(reply, "(uu)", a, b);
        sd_bus_message_unref(reply);
        sd_bus_error_free(&e);
        return r;
}

static int read_info(struct vmctl *c, const char *path, struct display_info *d) {
        int r;
        if ((r = get_bool(c, path, "Enabled", &d->enabled)) < 0 || (r = get_bool(c, path, "ServerRunning", &d->running)) < 0 ||
            (r = get_bool(c, path, "GuestVideo", &d->video)) < 0 ||
            (r = get_bool(c, path, "GuestKeyboard", &d->keyboard)) < 0 ||
            (r = get_bool(c, path, "GuestMouse", &d->mouse)) < 0 ||
            (r = get_pair(c, path, "Resolution", &d->res_w, &d->res_h)) < 0 ||
            (r = get_pair(c, path, "Mode", &d->mode_w, &d->mode_h)) < 0 ||
            (r = get_str(c, path, "VncSocket", &d->socket)) < 0 || (r = get_str(c, path, "VncAddress", &d->vnc)) < 0 ||
            (r = get_str(c, path, "WebUrl", &d->web)) < 0)
                return r;
        return 0;
}

static int password(struct vmctl *c, const char *path, char **out) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        const char *pw;
        int r = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_DISPLAY_IFACE, "Password", &e, &reply, "");
        if (r >= 0 && (r = sd_bus_message_read(reply, "s", &pw)) >= 0)
                *out = strdup(pw);
        sd_bus_message_unref(reply);
        if (r < 0)
                r = vmctl_fail(&e, r, "display");
        else
                r = *out ? 0 : VMCTL_EXIT_FAILURE;
        sd_bus_error_free(&e);
        return r;
}

static void print_json(const struct display_info *d, const char *pw) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "enabled", json_object_new_boolean(d->enabled));
        json_object_object_add(o, "server_running", json_object_new_boolean(d->running));
        json_object_object_add(o, "vnc_socket", json_object_new_string(d->socket));
        json_object_object_add(o, "vnc_address", json_object_new_string(d->vnc));
        json_object_object_add(o, "web_url", json_object_new_string(d->web));
        json_object_object_add(o, "guest_video", json_object_new_boolean(d->video));
        json_object_object_add(o, "guest_keyboard", json_object_new_boolean(d->keyboard));
        json_object_object_add(o, "guest_mouse", json_object_new_boolean(d->mouse));
        json_object_object_add(o, "width", json_object_new_int64(d->mode_w));
        json_object_object_add(o, "height", json_object_new_int64(d->mode_h));
        if (pw)
                json_object_object_add(o, "password", json_object_new_string(pw));
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
}

static void print_human(const char *vm, const struct display_info *d, const char *pw) {
        if (!d->enabled) {
                printf("%s has no display (vmctl edit %s --display=on, while it is off)\n", vm, vm);
                return;
        }
        printf("%-14s %s\n", "Console", d->socket[0] ? (d->running ? "served" : "starting") : "not running");
        if (d->socket[0])
                printf("%-14s %s (VNC)\n", "Socket", d->socket);
        if (d->vnc[0])
                printf("%-14s %s (VNC, loopback)\n", "Address", d->vnc);
        if (d->web[0])
                printf("%-14s %s\n", "Web console", d->web);
        if (pw)
                printf("%-14s %s\n", "Password", pw);
        if (!d->socket[0])
                return;
        char mode[48] = "none (no video driver yet)";
        if (d->mode_w)
                snprintf(mode, sizeof mode, "%ux%u", d->mode_w, d->mode_h);
        printf("%-14s %s (preferred %ux%u)\n", "Mode", mode, d->res_w, d->res_h);
        printf("%-14s video %s, keyboard %s, mouse %s\n", "Guest drivers", d->video ? "yes" : "no",
               d->keyboard ? "yes" : "no", d->mouse ? "yes" : "no");
}

static int run_display(struct vmctl *c, int argc, char **argv) {
        static const struct option opts[] = { { "password", no_argument, NULL, 'p' }, { "stdio", no_argument, NULL, 's' }, {} };
        bool want_pw = false, stdio = false;
        int o;
        while ((o = vmctl_getopt(c, argc, argv, opts)) != -1) {
                if (o != 'p' && o != 's')
                        return VMCTL_EXIT_USAGE;
                *(o == 'p' ? &want_pw : &stdio) = true;
        }
        int r = vmctl_check_args(argc, argv, 1);
        if (r)
                return r;
        if (stdio && (want_pw || c->json)) {
                fprintf(stderr, "vmctl display: --stdio relays the console; it takes no --password or --json\n");
                return VMCTL_EXIT_USAGE;
        }
        char *path = NULL, *pw = NULL;
        struct display_info d = { 0 };
        if ((r = vmctl_resolve(c, argv[optind], &path)) != 0)
                return r;
        if (stdio) {
                r = vmctl_display_stdio(c, path);
                free(path);
                return r;
        }
        if (read_info(c, path, &d) < 0) {
                fprintf(stderr, "vmctl display: cannot read the VM's display (is vmms older than this vmctl?)\n");
                r = VMCTL_EXIT_FAILURE;
        } else if (want_pw && d.enabled && (r = password(c, path, &pw)) != 0) {
                /* vmctl_fail said why */
        } else if (c->json) {
                print_json(&d, pw);
        } else {
                print_human(argv[optind], &d, pw);
        }
        if (pw)
                explicit_bzero(pw, strlen(pw));
        free(pw);
        free(d.socket), free(d.vnc), free(d.web);
        free(path);
        return r;
}

static void help_display(void) {
        printf("Usage: vmctl [--json] display VM [--password]\n"
               "       vmctl display VM --stdio\n"
               "Where the console of a running VM with a display is served: VNC on a Unix socket\n"
               "(e.g. `socat TCP-LISTEN:5900,bind=127.0.0.1 UNIX-CONNECT:SOCKET`, or a viewer\n"
               "that speaks Unix sockets), on 127.0.0.1 when the VM has --display=vnc=PORT, and\n"
               "the web console (noVNC) with --display=web=PORT. Every connection asks for the\n"
               "password, which vmms makes anew at each start: --password prints it. Also what\n"
               "the guest's synthetic video, keyboard and mouse drivers do (docs/console.md).\n"
               "--stdio connects to the VNC socket (Display.OpenDisplay: the manage action)\n"
               "and relays the connection to standard input and output until either ends\n"
               "(the VM stops): for a viewer that runs a command, as the Cockpit page does.\n");
}

/* FILE is written only once the PNG is whole: vmdisplay writes into a
 * temporary file next to it (so the rename cannot cross file systems),
 * renamed over FILE on success and removed on any failure, so a failed
 * screenshot (no such VM, no display, no mode) leaves no file and an
 * earlier FILE as it was. */
static int screenshot_tmp(const char *file, char *tmp, size_t len) {
        if (snprintf(tmp, len, "%s.tmpXXXXXX", file) >= (int)len)
                return -ENAMETOOLONG;
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* mkostemp makes 0600; FILE gets what open(0644) would give it */
        mode_t mask = umask(0);
        umask(mask);
        if (fchmod(fd, 0644 & ~mask) < 0) {
                int r = -errno;
                (void)unlink(tmp);
                close(fd);
                return r;
        }
        return fd;
}

static int run_screenshot(struct vmctl *c, int argc, char **argv) {
        if (vmctl_getopt(c, argc, argv, NULL) != -1)
                return VMCTL_EXIT_USAGE;
        int r = vmctl_check_args(argc, argv, 2);
        if (r)
                return r;
        const char *file = argv[optind + 1];
        bool out = !strcmp(file, "-");
        char *path = NULL;
        if ((r = vmctl_resolve(c, argv[optind], &path)) != 0)
                return r;
        char tmp[PATH_MAX] = "";
        _cleanup_close_ int fd = out ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3) : screenshot_tmp(file, tmp, sizeof tmp);
        if (fd < 0) {
                errno = out ? errno : -fd;
                fprintf(stderr, "vmctl screenshot: cannot write %s: %m\n", file);
                free(path);
                return VMCTL_EXIT_FAILURE;
        }
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int b = sd_bus_call_method(c->bus, VMMS_BUS_NAME, path, VMMS_DISPLAY_IFACE, "Screenshot", &e, NULL, "h", fd);
        free(path);
        if (b < 0)
                r = vmctl_fail(&e, b, "screenshot");
        else if (!out && rename(tmp, file) < 0) {
                fprintf(stderr, "vmctl screenshot: cannot write %s: %m\n", file);
                r = VMCTL_EXIT_FAILURE;
        } else if (!out && !c->quiet && !c->json)
                printf("%s: screenshot written to %s\n", argv[optind], file);
        if (r && !out)
                (void)unlink(tmp); /* not a PNG: leave nothing that looks like one */
        sd_bus_error_free(&e);
        return r;
}

static void help_screenshot(void) {
        printf("Usage: vmctl screenshot VM FILE     the screen of a running VM with a display as a PNG\n"
               "                                    (FILE \"-\": standard output)\n"
               "It fails while the guest has set no display mode (no synthetic video driver yet).\n");
}

const struct vmctl_command vmctl_cmd_display = { "display", "VM [--password|--stdio]", "a VM's console: where, and its password",
                                                 run_display, help_display };
const struct vmctl_command vmctl_cmd_screenshot = { "screenshot", "VM FILE", "the screen of a VM as a PNG",
                                                    run_screenshot, help_screenshot };
