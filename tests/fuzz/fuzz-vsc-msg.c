// SPDX-License-Identifier: MIT
/* vsc_msg_parse(): the validation of every host->guest channel message the
 * guest reads from SynIC slot 2 (§4.1). Input: the payload bytes. An
 * accepted message has a host->guest type, its full size and, for offers,
 * a relid in 1..2047. */
#include <stdlib.h>

#include "vsc/vsc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vsc_msg m;
        const char *why = NULL;
        int r = vsc_msg_parse(data, size, &m, &why);
        if (!why)
                abort(); /* every outcome is explained */
        if (r < 0) {
                if (r != -EBADMSG && r != -EPROTO)
                        abort();
                return 0;
        }
        if (size > 240 || m.len != size || m.type >= CHANNELMSG_COUNT || !vsc_msg_name(m.type))
                abort();
        if (m.type == CHANNELMSG_OFFERCHANNEL && (m.u.offer.child_relid == 0 || m.u.offer.child_relid > 2047))
                abort();
        return 0;
}
