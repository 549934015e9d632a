/* SPDX-License-Identifier: MIT */
/* The processor limit of a running VM (docs/vmms.md "Processor limit"):
 * Update's change sent to the worker ("processor" op, common/proto.h)
 * before the configuration is stored. Private to vmms/. */
#pragma once

#include "../core/daemon.h"

/* Takes next (the whole new configuration, checked as Update checks it):
 * sends its processor settings to vm's worker and answers call when the
 * worker has applied them (the configuration then stored) or refused
 * them (nothing changed). Another Update meanwhile is Busy. Returns 1
 * when the reply is deferred, or a negative errno with e set. */
int vmms_processor_update(struct vmms_vm *vm, sd_bus_message *call, struct vm_config *next, sd_bus_error *e);
/* An Update waiting for the worker: it holds the VM's configuration. */
bool vmms_processor_pending(const struct vmms_vm *vm);
void vmms_processor_free(struct vmms_vm *vm);
