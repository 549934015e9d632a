// SPDX-License-Identifier: MIT
/* Detection of the PVM ("pagetable-based") nested KVM our development and
 * CI machines provide (docs/pvm.md). The compatibility layer for stock
 * guests lives here as well and is only ever active when this says so. */
#include <unistd.h>

#include "internal.h"

bool vid_pvm_detect(void) {
        return access("/sys/module/kvm_pvm", F_OK) == 0;
}
