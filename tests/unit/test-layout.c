// SPDX-License-Identifier: MIT
/* Wire-format layouts. Every header under hvdefs/include/hv/ carries
 * _Static_asserts on sizes and offsets taken from
 * docs/hyperv-guest-interface.md; including them all here makes a layout
 * mistake fail the build of this test. The runtime checks below cover the
 * values that static asserts cannot express (GUID bytes, bit positions). */
#include "common/test.h"
#include "hv/nvsp.h"
#include "hv/rndis.h"
#include "hv/storvsc.h"
#include "hv/tlfs.h"
#include "hv/vmbus.h"
#include "hv/vmstack.h"

TEST(guid_wire_bytes) {
        static const uint8_t scsi[16] = HV_SCSI_GUID, nic[16] = HV_NIC_GUID;
        static const uint8_t want_scsi[16] = { 0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                               0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f };
        static const uint8_t want_nic[16] = { 0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46,
                                              0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed, 0x0e };
        ASSERT_MEMEQ(scsi, want_scsi, 16);
        ASSERT_MEMEQ(nic, want_nic, 16);
}

TEST(tlfs_constants) {
        ASSERT_EQ(HV_CPUID_SIGNATURE_EBX, 0x7263694du);
        ASSERT_EQ(HV_DEPRECATING_AEOI_RECOMMENDED, 0x200u);
        ASSERT_EQ(HV_HYPERCALL_FAST_BIT | HVCALL_SIGNAL_EVENT, 0x1005dull);
        ASSERT_EQ(offsetof(struct hv_message_page, sint_message[2]), (size_t)0x200);
        ASSERT_EQ(offsetof(struct hv_synic_event_flags_page, flags[2]), (size_t)0x200);
        ASSERT_EQ(HV_SYNIC_SINT_RESERVED & 0x7ffffull, 0ull);
}

TEST(vmbus_constants) {
        ASSERT_EQ(VERSION_WIN10_V5_3, VMBUS_MAKE_VERSION(5, 3));
        ASSERT_EQ(VERSION_WIN8, VMBUS_MAKE_VERSION(2, 4));
        ASSERT_EQ((unsigned)CHANNELMSG_COUNT, 25u);
        ASSERT_EQ(20 + 8 + 8 * VMBUS_GPADL_HEADER_MAX_PFNS, 236u); /* fits the 240-byte payload */
        ASSERT_EQ(16 + 8 * VMBUS_GPADL_BODY_MAX_PFNS, 240u);
}

TEST(net_constants) {
        /* §7.2: success is 1; §7.3: the versions Linux tries; §7.5 sizes */
        ASSERT_EQ((unsigned)NVSP_STAT_SUCCESS, 1u);
        ASSERT_EQ(NVSP_PROTOCOL_VERSION_61, 0x60001u);
        ASSERT_EQ((unsigned)NVSP_MSG5_TYPE_SUBCHANNEL, 133u);
        ASSERT_EQ(RNDIS_MSG_QUERY_C, 0x80000004u);
        ASSERT_EQ(offsetof(struct ndis_offload, rsc), (size_t)NDIS_OFFLOAD_SIZE_6_1);
        ASSERT_EQ(RNDIS_HEADER_SIZE + sizeof(struct rndis_initialize_complete) + 4096, (size_t)RNDIS_MAX_RESPONSE_SIZE);
}

TEST(storvsc_constants) {
        ASSERT_EQ(sizeof(struct vstor_packet), (size_t)64);
        ASSERT_EQ(STORVSC_MAX_PKT_SIZE, 80u);
        ASSERT_EQ(VMSTOR_PROTO_VERSION(6, 2), (uint16_t)VMSTOR_PROTO_VERSION_WIN10);
        ASSERT_EQ(VMSTOR_PROTO_VERSION(5, 1), (uint16_t)VMSTOR_PROTO_VERSION_WIN8);
        ASSERT_EQ(SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID, 0x84u);
        ASSERT_EQ(offsetof(struct vstor_packet, vm_srb.data_transfer_length), (size_t)24);
}

TEST_MAIN();
