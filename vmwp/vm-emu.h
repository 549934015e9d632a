/* SPDX-License-Identifier: MIT */
/* The emulated legacy devices of a VM (vm-emu.c, docs/emulated-devices.md):
 * the CMOS RTC and the i8042 in every VM; with IDE disks in the
 * configuration the PIIX3 PCI functions and the IDE controller; their
 * service thread; the keyboard socket (vm-emu-kbd.c). */
#pragma once

#include <stddef.h>

struct vmwp_vm;
struct vmwp_vm_options;
struct acpi_config;
struct json_object;
struct i8042;
struct emu_service;
struct vmwp_kbd_socket;

/* Builds and registers them (after the ACPI PM block exists: 0xCF9). */
int vmwp_vm_add_emu(struct vmwp_vm *vm, struct vmwp_vm_options *opt, char *err, size_t errlen);
/* What the ACPI tables must describe. */
void vmwp_vm_emu_acpi(const struct vmwp_vm *vm, struct acpi_config *ac);
/* Once the worker sandbox is entered: the service thread narrows itself
 * to the "emu" policy. */
int vmwp_vm_emu_sandboxed(struct vmwp_vm *vm);
/* dvd-insert / dvd-eject (common/proto.h): dvd_drives[drive] gets the
 * disc of fd (taken; -1: eject), changed on the service thread, which
 * also drops the old disc (its image lock); retried for a while when a
 * read of the old disc is in flight. -ENODEV (no IDE), -EINVAL (not a
 * disc image), -EBUSY, or the disk backend's error, with a sentence. */
int vmwp_vm_dvd_change(struct vmwp_vm *vm, unsigned drive, int fd, char *err, size_t errlen);
/* Stops the service thread (I/O in flight completes first) and frees. */
void vmwp_vm_free_emu(struct vmwp_vm *vm);

/* --keyboard socket:PATH (vm-emu-kbd.c): a unix stream socket, one client
 * at a time; its bytes are typed on the i8042's keyboard. */
int vmwp_kbd_socket_open(const char *path, struct i8042 *k, struct emu_service *svc, struct vmwp_kbd_socket **out,
                         char *err, size_t errlen);
/* The keyboard's queue has room again (called on the service thread). */
void vmwp_kbd_socket_resume(struct vmwp_kbd_socket *ks);
