// SPDX-License-Identifier: MIT
/* The guest's integration-service clients (guest-vsc/lib/ic*.c) decoding
 * whatever a host sends on an IC channel. Input: byte 0 picks the service
 * (and whether it is negotiated first), the rest is the packet payload.
 * The answer is written in place within the packet; the KVP store never
 * holds more than its limit, and every stored string is terminated. */
#include <stdlib.h>
#include <string.h>

#include "vsc/ic.h"

static void negotiate(struct vsc_ic *ic, struct vsc_kvp_store *s) {
        uint8_t buf[64] = { 0 };
        struct icmsg_hdr h = { .icmsgtype = ICMSGTYPE_NEGOTIATE, .icflags = ICMSGHDRFLAG_REQUEST };
        memcpy(buf + sizeof(struct vmbuspipe_hdr), &h, sizeof h);
        const uint16_t v[] = { 2, 3, 0, 0, 3, 0, 1, 0, 4, 0, 3, 0, 3, 2 }; /* 2 fw, 3 msg versions */
        memcpy(buf + ICMSG_HDR, v, sizeof v);
        struct vsc_ic_result r;
        (void)vsc_ic_handle(ic, s, buf, ICMSG_HDR + sizeof v, &r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct vsc_kvp_store store;
        static uint8_t buf[VSC_IC_KVP_MAX_PACKET + 64];
        if (size < 1 || size - 1 > VSC_IC_KVP_MAX_PACKET)
                return 0;
        memset(&store, 0, sizeof store);
        store.auto_values[0] = "fuzz";
        struct vsc_ic ic;
        vsc_ic_init(&ic, (enum vsc_ic_kind)(data[0] % VSC_IC_KINDS));
        if (data[0] & 0x80)
                negotiate(&ic, &store);
        size_t len = size - 1;
        memset(buf, 0xa5, sizeof buf);
        memcpy(buf, data + 1, len);
        struct vsc_ic_result r;
        /* Twice: a SET followed by the same bytes exercises replace paths. */
        for (int i = 0; i < 2; i++) {
                int a = vsc_ic_handle(&ic, &store, buf, len, &r);
                if (a != 0 && a != 1)
                        abort();
                for (size_t k = len; k < sizeof buf; k++)
                        if (buf[k] != 0xa5)
                                abort(); /* wrote past the packet */
                if (store.n_items > VSC_KVP_MAX_ITEMS)
                        abort();
                for (unsigned k = 0; k < store.n_items; k++)
                        if (!memchr(store.items[k].key, 0, sizeof store.items[k].key) ||
                            !memchr(store.items[k].value, 0, sizeof store.items[k].value) || !store.items[k].key[0])
                                abort();
                if (r.kvp_item && r.kvp_item != &store.removed &&
                    (r.kvp_item < store.items || r.kvp_item >= store.items + store.n_items))
                        abort();
        }
        return 0;
}
