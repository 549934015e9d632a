/* SPDX-License-Identifier: MIT */
/* KVP items as vmms handles them (docs/integration-services.md): checks of
 * what a D-Bus caller asks to set and of what a worker reports, as pure
 * functions with a fuzz target (tests/fuzz/fuzz-vmms-kvp.c). The limits are
 * the wire's (hv/ic.h) and the worker's (icvsp/icvsp.h), repeated here
 * because vmms depends only on common. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define VMMS_KVP_KEY_UNITS_MAX 255u    /* UTF-16 code units (512 bytes with the NUL on the wire) */
#define VMMS_KVP_VALUE_UNITS_MAX 1023u /* (2048 bytes) */
#define VMMS_KVP_MAX_HOST_ITEMS 64u    /* ICVSP_KVP_MAX_HOST_ITEMS */
#define VMMS_KVP_MAX_GUEST_ITEMS 128u  /* ICVSP_KVP_MAX_GUEST_ITEMS */

/* A key (non-empty) or value: valid UTF-8 of at most max_units UTF-16 code
 * units. Returns 0 or -EINVAL with "<what>: <reason>" in err. */
int vmms_kvp_check_string(const char *what, const char *s, size_t max_units, bool allow_empty, char *err,
                          size_t errlen);
int vmms_kvp_check_item(const char *key, const char *value, char *err, size_t errlen);
/* An "items" object from a worker: a JSON object of at most max items,
 * each a valid key with a string value. */
bool vmms_kvp_items_valid(struct json_object *items, unsigned max);
