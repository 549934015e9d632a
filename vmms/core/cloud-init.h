/* SPDX-License-Identifier: MIT */
/* cloud-init seeds made by vmms (docs/vmms.md "cloud-init seeds"):
 * CreateVMWithCloudInit's files turned into <state-dir>/<id>.cidata.iso
 * (vmms/cloud-init.h builds it, vmms/seed.h places it in a DVD drive),
 * the file opened for the worker, removed with the VM. Private to vmms/. */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

#include "core/daemon.h"

/* The D-Bus method CreateVMWithCloudInit(s config, a{say} files) -> o:
 * its dictionary checked (keys, sizes) before authorization. */
int vmms_cloud_init_precheck(sd_bus_message *m, sd_bus_error *e);
/* In CreateVMWithCloudInit, once c is parsed and its id and name are
 * known: makes the seed from the message's files, writes it (root's, 0600)
 * and puts its path into a DVD drive of c. seed_path (PATH_MAX) is the
 * file written, for the caller to remove if the VM is not created after
 * all; empty when nothing was written. */
int vmms_cloud_init_make(struct vmms_daemon *d, sd_bus_message *m, struct vm_config *c, char *seed_path,
                         size_t len, sd_bus_error *e);
/* In CreateVMWithSeed(s config, h seed) -> o, once c is parsed: the
 * seed a host exported with the VM (vmctl export-saved --config), read
 * from the caller's fd and checked as a migration's seed is (size bound,
 * ISO 9660 labelled cidata), is written as this host's <id>.cidata.iso
 * into the DVD drive that named the exporting host's (a path ending in
 * /<id>.cidata.iso). seed_path as for vmms_cloud_init_make. */
int vmms_seed_take(struct vmms_daemon *d, sd_bus_message *m, struct vm_config *c, char *seed_path, size_t len,
                   sd_bus_error *e);
/* ExportSavedSeed() -> h: the VM's seed, opened read-only, or -ENOENT
 * (it has none) with err. */
int vmms_seed_export(struct vmms_vm *vm, char *err, size_t errlen);
/* A seed named in a configuration (CreateVM, Update, InsertDvd) must be
 * there: a regular file of vmms's. 0 or -errno, "field: path: why". */
int vmms_seed_check(const char *path, const char *field, char *err, size_t errlen);
/* The same, opened read-only (not through a symlink) for the worker. */
int vmms_seed_open(const char *path, const char *field, char *err, size_t errlen);
/* Delete (and a VM that moved to another host): its seed goes too. */
void vmms_seed_remove(struct vmms_vm *vm);
