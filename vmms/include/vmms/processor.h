/* SPDX-License-Identifier: MIT */
/* The VM's processor settings ("processor" in its configuration,
 * common/config.h) as Update changes them: the pure decision of where a
 * change goes, unit-tested (tests/unit/test-vmms-processor.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "vmms/lifecycle.h"

/* Whether next's "processor" may replace cur's while the VM is in state s.
 * 0 and *to_worker false: unchanged, or the configuration alone changes
 * (Off, Crashed, Saved: the next start or restore applies it). 0 and
 * *to_worker true: a worker runs the VM (Running, Paused) and must apply
 * it before the change is stored. -EBUSY with "processor: ..." in err
 * while a worker is being started, stopped, saved or migrated (the change
 * would miss the worker that carries the VM on). */
int vmms_processor_check_update(const struct vm_config *cur, const struct vm_config *next, enum vmms_state s,
                                bool *to_worker, char *err, size_t errlen);
