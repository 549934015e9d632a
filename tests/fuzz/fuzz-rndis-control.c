// SPDX-License-Identifier: MIT
/* RNDIS control messages from a hostile guest: a sequence of messages
 * (u16 length + bytes each) against one device. The first byte picks the
 * configuration (offload capabilities, RSS queues) and whether INIT comes
 * first. Every response must be a well-formed completion that fits the
 * guest's limit (§7.4), and the device must stay in a defined state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rndis/device.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_response(const uint8_t *r, int len) {
        uint32_t type, msg_len;
        if (len == 0)
                return;
        if (len < 16 || len > (int)RNDIS_MAX_RESPONSE_SIZE)
                abort();
        memcpy(&type, r, 4);
        memcpy(&msg_len, r + 4, 4);
        if (msg_len != (uint32_t)len || !(type & RNDIS_MSG_COMPLETION))
                abort();
        if (type == RNDIS_MSG_QUERY_C) { /* Linux's checks (rndis_filter_query_device) */
                uint32_t ilen, ioff;
                memcpy(&ilen, r + 16, 4);
                memcpy(&ioff, r + 20, 4);
                if (ioff != 16 || msg_len != 24 + ilen)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0, 0, 1 };
        struct rndis_device *d = malloc(sizeof *d);
        uint8_t *resp = malloc(RNDIS_MAX_RESPONSE_SIZE);
        struct rndis_config cfg;

        if (!d || !resp || size < 1)
                goto out;
        rndis_config_init_defaults(&cfg);
        memcpy(cfg.mac, mac, 6);
        cfg.caps.tx_csum_ip4 = cfg.caps.lso_ip4 = data[0] & 1;
        cfg.caps.tx_csum_ip6 = cfg.caps.lso_ip6 = data[0] & 2;
        cfg.rss_queues = (data[0] & 4) ? 4 : 1;
        cfg.allow_mac_change = data[0] & 8;
        if (rndis_device_init(d, &cfg) < 0)
                abort();
        if (data[0] & 16) {
                uint8_t init[24] = { 2, 0, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0, 1 };
                if (rndis_device_control(d, init, sizeof init, resp, RNDIS_MAX_RESPONSE_SIZE) != 52)
                        abort();
        }
        for (size_t pos = 1; pos + 2 <= size;) {
                size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
                pos += 2;
                if (len > size - pos)
                        len = size - pos;
                /* copy, as netvsp does: never parse shared memory in place */
                uint8_t *msg = malloc(len ? len : 1);
                if (!msg)
                        break;
                memcpy(msg, data + pos, len);
                int r = rndis_device_control(d, msg, len, resp, RNDIS_MAX_RESPONSE_SIZE);
                free(msg);
                if (r < 0 && r != -EBADMSG)
                        abort();
                if (r > 0)
                        check_response(resp, r);
                pos += len;
        }
        if (d->state > RNDIS_STATE_HALTED || d->rss_table_len > RNDIS_RSS_TABLE_MAX)
                abort();
        rndis_device_take_events(d);
out:
        free(d);
        free(resp);
        return 0;
}
