/* SPDX-License-Identifier: MIT */
/* A VM's checkpoints as data (docs/checkpoints.md): the tree vmms keeps in
 * <state-dir>/<id>.checkpoints/index.json, with a pure parser and writer
 * (the file is vmms's own, but a damaged one must give a clear error and
 * never a crash: fuzz-vmms-checkpoints). The operations are in
 * vmms/checkpoint/checkpoint.c, their disk work in vmms/checkpoint/disks.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/guid.h"

#define VMMS_CHECKPOINTS_MAX 64u
#define VMMS_CHECKPOINT_NAME_MAX 64u /* bytes with the NUL */
#define VMMS_CHECKPOINTS_FILE_MAX (4u << 20)
/* Image files vmms made (children, copies) and still keeps. */
#define VMMS_CHECKPOINT_OWNED_MAX (VMMS_CHECKPOINTS_MAX * 4u + VM_DISKS_MAX)

enum vmms_ckpt_disk_kind {
        VMMS_CKPT_DISK_VHDX,      /* image: the VHDX frozen at the checkpoint (the VM went on on a child) */
        VMMS_CKPT_DISK_RAW_COPY,  /* image: a reflinked copy (FICLONE) of the raw disk */
        VMMS_CKPT_DISK_UNCHANGED, /* a read-only disk: image is the disk itself */
};

struct vmms_ckpt_disk {
        enum vmms_ckpt_disk_kind kind;
        char image[VM_PATH_MAX];
};

struct vmms_checkpoint {
        struct guid id;
        char name[VMMS_CHECKPOINT_NAME_MAX];
        struct guid parent;  /* null: a root of the tree */
        uint64_t created_us; /* CLOCK_REALTIME */
        bool has_state;      /* a saved state: the VM ran (or was Saved) */
        bool production;     /* the guest froze its file systems (VSS) instead: no state */
        uint64_t state_bytes;
        /* A firmware VM's BootStatus with its state ("firmware", "booted",
         * "no-bootable-device"; "": none): a revert gives it back. */
        char boot_status[24];
        char *config;        /* the VM's configuration then, JSON text (malloc'd) */
        uint32_t n_disks;
        struct vmms_ckpt_disk *disks; /* n_disks (malloc'd), in the configuration's order */
};

struct vmms_checkpoints {
        uint32_t n;
        struct vmms_checkpoint *c[VMMS_CHECKPOINTS_MAX];
        struct guid current; /* the checkpoint the VM's present state descends from; null: none */
        uint32_t n_owned;
        char (*owned)[VM_PATH_MAX]; /* malloc'd: images vmms made, removed once nothing needs them */
};

void vmms_checkpoint_free(struct vmms_checkpoint *c);
void vmms_checkpoints_clear(struct vmms_checkpoints *t);
/* Parses index.json: -EINVAL with a sentence in err (t left empty). */
int vmms_checkpoints_parse(const char *text, size_t len, struct vmms_checkpoints *t, char *err, size_t errlen);
/* The JSON text (malloc'd), or NULL. */
char *vmms_checkpoints_to_json(const struct vmms_checkpoints *t);

/* One of a firmware VM's BootStatus words (not ""). */
bool vmms_boot_status_word(const char *s);

/* By name, or by id in text form; NULL if none. */
struct vmms_checkpoint *vmms_checkpoints_find(const struct vmms_checkpoints *t, const char *name_or_id);
struct vmms_checkpoint *vmms_checkpoints_find_id(const struct vmms_checkpoints *t, const struct guid *id);
/* A name a checkpoint may have: 1..63 bytes, printable, no '/'. */
bool vmms_checkpoint_name_ok(const char *name);
/* Appends c (taken on success); -E2BIG past VMMS_CHECKPOINTS_MAX, -EEXIST
 * for a name in use. */
int vmms_checkpoints_add(struct vmms_checkpoints *t, struct vmms_checkpoint *c);
/* Removes c (freed): its children get its parent; current moves up to its
 * parent when it was c. */
void vmms_checkpoints_remove(struct vmms_checkpoints *t, struct vmms_checkpoint *c);
/* Whether some checkpoint keeps path as its image. */
bool vmms_checkpoints_holds(const struct vmms_checkpoints *t, const char *path);
/* The owned set: add (-E2BIG when full; adding twice is one), drop, has. */
int vmms_checkpoints_own(struct vmms_checkpoints *t, const char *path);
void vmms_checkpoints_disown(struct vmms_checkpoints *t, const char *path);
bool vmms_checkpoints_owns(const struct vmms_checkpoints *t, const char *path);
