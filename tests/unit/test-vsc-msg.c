// SPDX-License-Identifier: MIT
/* vsc_msg_parse (every host->guest message type at, below and above its
 * size) and the freestanding formatter the guest reports with. */
#include "common/test.h"
#include "vsc/fmt.h"
#include "vsc/vsc.h"

static const struct {
        uint32_t type, min;
} host_types[] = {
        { CHANNELMSG_OFFERCHANNEL, 196 },         { CHANNELMSG_RESCIND_CHANNELOFFER, 12 },
        { CHANNELMSG_ALLOFFERS_DELIVERED, 8 },    { CHANNELMSG_OPENCHANNEL_RESULT, 20 },
        { CHANNELMSG_GPADL_CREATED, 20 },         { CHANNELMSG_GPADL_TORNDOWN, 12 },
        { CHANNELMSG_VERSION_RESPONSE, 16 },      { CHANNELMSG_UNLOAD_RESPONSE, 8 },
        { CHANNELMSG_MODIFYCHANNEL_RESPONSE, 16 }, { CHANNELMSG_TL_CONNECT_RESULT, 8 },
};

TEST(host_types_sizes) {
        uint8_t buf[240];
        struct vsc_msg m;
        const char *why;
        for (size_t i = 0; i < sizeof host_types / sizeof host_types[0]; i++) {
                memset(buf, 0, sizeof buf);
                memcpy(buf, &host_types[i].type, 4);
                buf[184] = 1; /* a valid relid for the offer */
                ASSERT_OK(vsc_msg_parse(buf, host_types[i].min, &m, &why));
                ASSERT_EQ(m.type, host_types[i].type);
                ASSERT_EQ(m.len, host_types[i].min);
                ASSERT_OK(vsc_msg_parse(buf, 240, &m, &why)); /* longer is fine */
                if (host_types[i].min > 8)
                        ASSERT_ERROR(vsc_msg_parse(buf, host_types[i].min - 1, &m, &why), EBADMSG);
        }
}

TEST(rejects_guest_types_and_unknown) {
        uint8_t buf[240] = { 0 };
        struct vsc_msg m;
        const char *why;
        static const uint32_t bad[] = { 0, 3, 5, 7, 8, 9, 11, 13, 14, 16, 18, 19, 20, 21, 22, 25, 0xffffffffu };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                memcpy(buf, &bad[i], 4);
                ASSERT_ERROR(vsc_msg_parse(buf, 240, &m, &why), EBADMSG);
        }
        ASSERT_ERROR(vsc_msg_parse(buf, 7, &m, &why), EBADMSG);
        ASSERT_ERROR(vsc_msg_parse(buf, 241, &m, &why), EBADMSG);
}

TEST(offer_relid_range) {
        struct vmbus_channel_offer_channel o = { .header.msgtype = CHANNELMSG_OFFERCHANNEL };
        struct vsc_msg m;
        const char *why;
        o.child_relid = 0;
        ASSERT_ERROR(vsc_msg_parse(&o, sizeof o, &m, &why), EPROTO);
        o.child_relid = 2048;
        ASSERT_ERROR(vsc_msg_parse(&o, sizeof o, &m, &why), EPROTO);
        o.child_relid = 2047;
        ASSERT_OK(vsc_msg_parse(&o, sizeof o, &m, &why));
        ASSERT_EQ(m.u.offer.child_relid, 2047u);
}

TEST(copy_is_private) {
        uint8_t buf[240] = { CHANNELMSG_VERSION_RESPONSE };
        struct vsc_msg m;
        const char *why;
        buf[8] = 1;
        ASSERT_OK(vsc_msg_parse(buf, 16, &m, &why));
        buf[8] = 0; /* the host changes the slot after the copy */
        ASSERT_EQ(m.u.version_response.version_supported, 1u);
        ASSERT_EQ(m.u.raw[16], 0u); /* bytes past len read as zero */
        ASSERT_STREQ(vsc_msg_name(CHANNELMSG_VERSION_RESPONSE), "VERSION_RESPONSE");
        ASSERT_STREQ(vsc_msg_name(99), "UNKNOWN");
}

TEST(formatter) {
        char b[64];
        ASSERT_EQ(vsc_snprintf(b, sizeof b, "%d %u %x %05d %-3s| %lu %llx %zu %c %%", -12, 7u, 0xbeefu, -42, "a",
                               123456789012ul, 0x1234567890abcdefull, (size_t)9, 'z'),
                  (int)strlen("-12 7 beef -0042 a  | 123456789012 1234567890abcdef 9 z %"));
        ASSERT_STREQ(b, "-12 7 beef -0042 a  | 123456789012 1234567890abcdef 9 z %");
        ASSERT_EQ(vsc_snprintf(b, 4, "%s", "truncated"), 9);
        ASSERT_STREQ(b, "tru");
        const char *volatile nul = NULL; /* hidden from -Wformat-overflow */
        vsc_snprintf(b, sizeof b, "%s %p", nul, (void *)0x10);
        ASSERT_STREQ(b, "(null) 0x10");
        vsc_snprintf(b, sizeof b, "%d", (int)-2147483647 - 1);
        ASSERT_STREQ(b, "-2147483648");
}

TEST(guid_text) {
        static const uint8_t scsi[16] = HV_SCSI_GUID;
        char s[VSC_GUID_STRLEN];
        vsc_guid_format(scsi, s);
        ASSERT_STREQ(s, "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f");
}

TEST_MAIN();
