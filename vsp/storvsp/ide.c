// SPDX-License-Identifier: MIT
/* IDE accelerator channels (docs/storvsp.md "IDE accelerator channels"):
 * where Hyper-V offers an IDE disk on VMBus, and where Linux then looks
 * for it. Pure. */
#include <errno.h>
#include <string.h>

#include "storvsp/provider.h"

/* Hyper-V's instance GUID for IDE location (channel, position), as OpenVMM
 * builds it (storvsp build_ide: data1 = channel, data2 = device, data3 =
 * 0x8899, data4 zero). Linux's storvsc_probe reads target = b[5] << 8 |
 * b[4], i.e. data2, and adds one SCSI device at (channel 0, target, lun 0);
 * its old storvsc_get_ide_info read path = data1. */
int storvsp_ide_offer(unsigned channel, unsigned position, struct storvsp_ide_offer *out) {
        if (channel >= STORVSP_IDE_CHANNELS || position >= STORVSP_IDE_POSITIONS)
                return -EINVAL;
        memset(out, 0, sizeof *out);
        out->instance.b[0] = (uint8_t)channel;  /* data1, little-endian */
        out->instance.b[4] = (uint8_t)position; /* data2 */
        out->instance.b[6] = 0x99;              /* data3 = 0x8899 */
        out->instance.b[7] = 0x88;
        out->props.path_id = (uint8_t)channel;
        out->props.target_id = (uint8_t)position;
        out->props.flags = STORVSC_OFFER_PROPERTIES_FLAG_IDE_DEVICE;
        out->target = (uint8_t)position;
        out->state_instance = STORVSP_IDE_STATE_INSTANCE_BASE + channel * STORVSP_IDE_POSITIONS + position;
        return 0;
}
