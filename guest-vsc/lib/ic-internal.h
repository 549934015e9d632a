/* SPDX-License-Identifier: MIT */
/* Private to lib/ic*.c: the KVP part of vsc_ic_handle(). */
#pragma once

#include "vsc/ic.h"

/* Serves one KVPEXCHANGE body (body_len bytes after the icmsg header) in
 * place, as hv_kvp.c + hv_kvp_daemon do; returns the status for the
 * answer's header. */
uint32_t vsc_ic_kvp_serve(struct vsc_kvp_store *s, uint8_t *body, size_t body_len, struct vsc_ic_result *out);
