/* SPDX-License-Identifier: MIT */
/* What both sides of a quick migration share (migration/quick-out.c,
 * migration/quick-in.c; docs/migration.md "Quick migration"). Private to
 * vmms/. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "vmms/migchan.h"

struct vmms_mig_conn;

/* The state file moves in pieces of this size. */
#define QUICK_CHUNK (1u << 20)

/* One byte on a SEQPACKET note pair between a channel thread and the loop;
 * get: 0 when the other end is gone. */
void vmms_saved_note_put(int fd, char type);
char vmms_saved_note_get(int fd);
void vmms_saved_sync_dir(const char *dir);
/* A STEP frame (vmms_migchan_step_build/parse); recv: -EBADMSG for a
 * malformed one. */
int vmms_saved_send_step(struct vmms_mig_conn *c, enum vmms_migchan_step step, uint32_t crc, const char *why);
int vmms_saved_recv_step(struct vmms_mig_conn *c, enum vmms_migchan_step *step, uint32_t *crc, char *why,
                         size_t whylen);
