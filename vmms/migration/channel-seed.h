/* SPDX-License-Identifier: MIT */
/* The request's "seed" field (vmms/migchan.h, migration/channel-seed.c),
 * for channel.c's request parser. Private to vmms/. */
#pragma once

#include <json-c/json.h>
#include <stddef.h>

#include "vmms/migchan.h"

/* "seed" of a request, once its configuration is parsed: the drive it
 * names must exist; the size within bounds. Sets out->has_seed and
 * out->seed; -EINVAL with "seed: ..." in err. */
int vmms_migchan_seed_parse(json_object *o, struct vmms_migchan_request *out, char *err, size_t errlen);
