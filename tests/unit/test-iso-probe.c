// SPDX-License-Identifier: MIT
/* What vmms reads from an image before a DVD drive or a disk gets it
 * (vmms/iso-probe.h, docs/firmware.md "Disc images"): an ISO 9660 volume
 * larger than its file is truncated; a file under one block is no disc;
 * a volume descriptor whose both-endian fields differ is refused; an ISO
 * 9660 image without a boot sector is no disk, an isohybrid one is; a
 * file that is no ISO 9660 image passes both checks. */
#include <errno.h>
#include <string.h>

#include "common/test.h"
#include "vmms/iso-probe.h"

static uint8_t head[ISO_PROBE_HEAD];

/* A primary volume descriptor of `blocks` blocks of bs bytes. */
static void make_iso(uint32_t blocks, uint16_t bs) {
        memset(head, 0, sizeof head);
        uint8_t *d = head + 16 * 2048;
        d[0] = 1, memcpy(d + 1, "CD001", 5), d[6] = 1;
        for (int i = 0; i < 4; i++) {
                d[80 + i] = (uint8_t)(blocks >> (8 * i));
                d[87 - i] = (uint8_t)(blocks >> (8 * i));
        }
        d[128] = (uint8_t)bs, d[129] = (uint8_t)(bs >> 8);
        d[130] = (uint8_t)(bs >> 8), d[131] = (uint8_t)bs;
}

TEST(a_whole_iso_is_a_disc) {
        struct iso_probe p;
        char why[256] = "";
        make_iso(100, 2048);
        ASSERT_OK(iso_probe(head, sizeof head, &p, why, sizeof why));
        ASSERT_TRUE(p.iso9660);
        ASSERT_FALSE(p.boot_signature);
        ASSERT_EQ(p.volume_bytes, 204800u);
        ASSERT_OK(iso_probe_disc(head, sizeof head, 204800, why, sizeof why));
        ASSERT_OK(iso_probe_disc(head, sizeof head, 300000, why, sizeof why)); /* padding after it */
}

TEST(a_truncated_iso_says_so) {
        char why[256] = "";
        make_iso(100, 2048);
        ASSERT_EQ(iso_probe_disc(head, sizeof head, 102400, why, sizeof why), -EINVAL);
        ASSERT_STREQ(why, "truncated: its ISO 9660 volume is 204800 bytes, the file 102400 (copy it again)");
        make_iso(400, 512); /* 512-byte blocks count so */
        ASSERT_OK(iso_probe_disc(head, sizeof head, 204800, why, sizeof why));
        ASSERT_EQ(iso_probe_disc(head, sizeof head, 204799, why, sizeof why), -EINVAL);
}

TEST(less_than_a_block_is_no_disc) {
        char why[256] = "";
        ASSERT_EQ(iso_probe_disc(head, 100, 100, why, sizeof why), -EINVAL);
        ASSERT_STREQ(why, "not a disc image: 100 bytes, less than one 2048-byte block");
        /* Short reads of a file that is no ISO 9660 image: fine. */
        memset(head, 0, sizeof head);
        ASSERT_OK(iso_probe_disc(head, 4096, 4096, why, sizeof why));
        ASSERT_OK(iso_probe_disk(head, 4096, why, sizeof why));
}

TEST(a_descriptor_that_contradicts_itself) {
        char why[256] = "";
        make_iso(100, 2048);
        head[16 * 2048 + 84] ^= 1;
        ASSERT_EQ(iso_probe_disc(head, sizeof head, 1 << 20, why, sizeof why), -EINVAL);
        ASSERT_NOT_NULL(strstr(why, "contradicts itself"));
        make_iso(100, 4096);
        ASSERT_EQ(iso_probe_disc(head, sizeof head, 1 << 20, why, sizeof why), -EINVAL);
        ASSERT_STREQ(why, "its ISO 9660 volume descriptor has a block size of 4096 bytes (512, 1024 or 2048)");
        /* Another descriptor type or version at block 16: not ISO 9660. */
        make_iso(100, 2048);
        head[16 * 2048 + 6] = 2;
        struct iso_probe p;
        ASSERT_OK(iso_probe(head, sizeof head, &p, why, sizeof why));
        ASSERT_FALSE(p.iso9660);
}

TEST(a_dvd_image_is_no_disk_unless_hybrid) {
        char why[256] = "";
        make_iso(100, 2048);
        ASSERT_EQ(iso_probe_disk(head, sizeof head, why, sizeof why), -EINVAL);
        ASSERT_STREQ(why, "a DVD image (ISO 9660, no boot sector for a disk): give it to a DVD drive "
                          "(vmctl create --dvd=ISO, vmctl dvd insert)");
        head[510] = 0x55, head[511] = 0xaa; /* isohybrid: an MBR in the system area */
        ASSERT_OK(iso_probe_disk(head, sizeof head, why, sizeof why));
        memset(head, 0, sizeof head); /* a raw disk */
        ASSERT_OK(iso_probe_disk(head, sizeof head, why, sizeof why));
}

int main(int argc, char **argv) {
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
