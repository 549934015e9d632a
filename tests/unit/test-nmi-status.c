// SPDX-License-Identifier: MIT
/* Port 61h (emu/nmi-status.h): no NMI source and no timer 2 output ever
 * read as set (an NMI the operator sends is one of no hardware reason, not
 * the empty port's all-ones that Linux takes for a PCI system error), and
 * the refresh bit toggles with time, once per refresh request. */
#include "common/test.h"
#include "emu/nmi-status.h"

TEST(status_bits_clear_refresh_toggles) {
        unsigned toggles = 0;
        uint8_t prev = nmi_status_read(0);
        for (uint64_t t = 0; t < 100ull * NMI_STATUS_REFRESH_NS; t += 997) {
                uint8_t v = nmi_status_read(t);
                ASSERT_EQ(v & ~NMI_STATUS_REFRESH, 0); /* SERR#, IOCHK#, OUT2, the enables */
                toggles += v != prev;
                prev = v;
        }
        ASSERT_EQ(toggles, 99u);
        ASSERT_EQ(nmi_status_read(NMI_STATUS_REFRESH_NS - 1), 0);
        ASSERT_EQ(nmi_status_read(NMI_STATUS_REFRESH_NS), NMI_STATUS_REFRESH);
        ASSERT_EQ(nmi_status_read(UINT64_MAX) & ~NMI_STATUS_REFRESH, 0);
}

TEST_MAIN();
