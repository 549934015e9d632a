/* SPDX-License-Identifier: MIT */
/* What a running guest offers through its worker (docs/integration-services.md,
 * docs/hvsock.md): KVP items (kvp.c), CopyFile (fcopy.c), hv_sock connects
 * (hvsock.c) and the serial console (console.c). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"

/* The VM's guest-services part (vm->guest), made and freed with the VM. */
struct vmms_guest {
        char hb_status[16];               /* Heartbeat: the worker's last word */
        uint64_t hb_last_us;
        struct json_object *kvp_guest;    /* the guest's KVP items as last reported; NULL: none */
        struct json_object *kvp_host;     /* host items (SetKVP), kept across guest reboots */
        uint64_t fcopy_done, fcopy_total; /* FileCopyProgress */
};

/* kvp.c: KVP items (docs/integration-services.md) */
void vmms_kvp_on_event(struct vmms_vm *vm, struct json_object *ev);
/* A worker is ready or re-attached: push the host items, read its items. */
void vmms_kvp_sync(struct vmms_vm *vm);
/* The worker ended; a reboot keeps the host items for the next worker. */
void vmms_kvp_worker_ended(struct vmms_vm *vm, bool reboot);
/* SetKVP (value) / RemoveKVP (value NULL): checks, then the worker's
 * kvp-set; the D-Bus reply follows the worker's. Returns what a method
 * handler returns. */
int vmms_kvp_request(struct vmms_vm *vm, sd_bus_message *call, const char *key, const char *value, sd_bus_error *e);
/* Appends items as a{ss} (NULL: empty). */
int vmms_kvp_append(sd_bus_message *reply, struct json_object *items);

/* fcopy.c: CopyFile, a host file into the guest (file-copy integration
 * service, docs/integration-services.md "File copy"); the caller checked
 * the VM's state and its pending operations (vm-dbus.c's begin) */
int vmms_fcopy_request(struct vmms_vm *vm, sd_bus_message *call, int fd, const char *dest, bool overwrite,
                       bool create_path, sd_bus_error *e);
/* CancelFileCopy: the worker cancels the copy in progress; its CopyFile
 * call fails once the guest has deleted the partial file. */
int vmms_fcopy_cancel(struct vmms_vm *vm, sd_bus_message *call, sd_bus_error *e);
/* The worker's "fcopy" (done) and "fcopy-progress" events. */
void vmms_fcopy_on_event(struct vmms_vm *vm, struct json_object *ev);
/* hvsock.c: a guest's hv_sock connect ("hvsock-connect" event). */
void vmms_hvsock_on_event(struct vmms_vm *vm, struct json_object *ev);
/* The worker ended: a copy in progress failed. */
void vmms_fcopy_worker_ended(struct vmms_vm *vm);

/* console.c: OpenConsole(false), one interactive client at a time */
struct vmms_console_holder {
        uid_t uid;
        pid_t pid;        /* 0: unknown (not handed out by this vmms) */
        char comm[16];
        uint64_t since_us; /* CLOCK_REALTIME */
        uint64_t seq;      /* the worker's number of that connection ("clients") */
};
/* Asks the worker whether its console is free; the D-Bus reply (the
 * connected socket, or org.vmstack.Error.Busy naming the holder) follows
 * its answer. Returns what a method handler returns. */
int vmms_console_open_interactive(struct vmms_vm *vm, sd_bus_message *m, sd_bus_error *e);
/* "VM 'NAME': the console is in use by uid U (USER), pid P (COMM), since
 * DATE" (local time); a holder with pid 0 is one vmms did not hand out. */
void vmms_console_busy_message(const char *vm_name, const struct vmms_console_holder *h, const char *user,
                               char *buf, size_t len);
