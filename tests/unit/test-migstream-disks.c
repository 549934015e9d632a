// SPDX-License-Identifier: MIT
/* The migration stream's shared-nothing parts (common/migstream.h): the
 * hello's MIG_HELLO_COPY_DISKS flag round-trips and must match on both
 * sides; unknown hello flags are refused; DISK and DISK_ZERO records carry
 * the disk's index in their flags and are checked for sector alignment,
 * emptiness, length and overflow; flags stay refused on the other types;
 * a stream with DISK records walks to its STATE. */
#include <errno.h>
#include <string.h>

#include "common/migstream.h"
#include "common/test.h"
#include "common/vmstate.h"

static struct mig_hello hello(uint64_t flags) {
        struct mig_hello h = { .major = MIG_MAJOR, .page_size = MIG_PAGE_SIZE, .ram_bytes = 1 << 20, .vcpus = 1,
                               .flags = flags };
        strcpy(h.shape, "uart");
        h.shape_len = 4;
        return h;
}

TEST(the_hello_flag_round_trips_and_must_match) {
        uint8_t buf[MIG_HELLO_MAX];
        char err[256];
        struct mig_hello src = hello(MIG_HELLO_COPY_DISKS), got, dst = hello(0);
        int n = mig_hello_encode(&src, buf, sizeof buf);
        ASSERT_GT(n, 0);
        ASSERT_EQ(mig_hello_parse(buf, (size_t)n, &got, err, sizeof err), n);
        ASSERT_EQ(got.flags, (uint64_t)MIG_HELLO_COPY_DISKS);
        ASSERT_ERROR(mig_hello_check(&got, &dst, err, sizeof err), EINVAL);
        ASSERT_TRUE(strstr(err, "the source copies its disks") != NULL);
        ASSERT_ERROR(mig_hello_check(&dst, &got, err, sizeof err), EINVAL);
        ASSERT_TRUE(strstr(err, "this destination expects the disks' content") != NULL);
        dst.flags = MIG_HELLO_COPY_DISKS;
        ASSERT_OK(mig_hello_check(&got, &dst, err, sizeof err));
        /* an unknown flag: refused (CRC fixed up so that the flag is what fails) */
        src.flags = 4;
        n = mig_hello_encode(&src, buf, sizeof buf);
        ASSERT_ERROR(mig_hello_parse(buf, (size_t)n, &got, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "hello: unknown flags 0x4");
}

static int parse(uint32_t type, uint32_t disk, uint64_t addr, uint64_t len, struct mig_record *out) {
        uint8_t hdr[MIG_RECORD_HEADER];
        char err[256];
        mig_record_encode_index(hdr, type, disk, addr, len, 0);
        return mig_record_parse(hdr, 1 << 20, true, out, err, sizeof err);
}

/* The same record at offset 0 of index 0, as a destination's. */
static int parse_from_destination(uint32_t type, uint64_t len, struct mig_record *out) {
        uint8_t hdr[MIG_RECORD_HEADER];
        char err[256];
        mig_record_encode_index(hdr, type, 0, 0, len, 0);
        return mig_record_parse(hdr, 1 << 20, false, out, err, sizeof err);
}

TEST(disk_records_are_checked) {
        struct mig_record r;
        ASSERT_OK(parse(MIG_DISK, 3, 1 << 20, 4096, &r));
        ASSERT_EQ(r.index, 3u);
        ASSERT_EQ(r.addr, 1u << 20);
        ASSERT_EQ(mig_record_payload(&r), 4096u);
        /* far beyond RAM is fine: the disk's size is the destination's check */
        ASSERT_OK(parse(MIG_DISK_ZERO, MIG_DISKS_MAX - 1, 1ull << 40, 1ull << 40, &r));
        ASSERT_EQ(mig_record_payload(&r), 0u);
        ASSERT_ERROR(parse(MIG_DISK, MIG_DISKS_MAX, 0, 512, &r), EINVAL);      /* index */
        ASSERT_ERROR(parse(MIG_DISK, 0, 100, 512, &r), EINVAL);                /* alignment */
        ASSERT_ERROR(parse(MIG_DISK, 0, 0, 100, &r), EINVAL);
        ASSERT_ERROR(parse(MIG_DISK, 0, 0, 0, &r), EINVAL);                    /* empty */
        ASSERT_ERROR(parse(MIG_DISK, 0, 0, MIG_PAGES_MAX + 512, &r), EINVAL);  /* one record's payload */
        ASSERT_ERROR(parse(MIG_DISK_ZERO, 0, 0, MIG_DISK_ZERO_MAX + 512, &r), EINVAL);
        ASSERT_ERROR(parse(MIG_DISK_ZERO, 0, UINT64_MAX - 511, 1024, &r), EINVAL); /* overflow */
        /* flags on the other types stay refused */
        ASSERT_ERROR(parse(MIG_PAGES, 1, 0, 4096, &r), EINVAL);
        ASSERT_ERROR(parse_from_destination(MIG_DISK, 512, &r), EINVAL); /* a source's type */
}

/* Device memory (a VRAM): page-aligned ranges inside MIG_DEVMEM_BYTES of
 * one of MIG_DEVMEM_MAX memories; its size is the destination's check. */
TEST(device_memory_records_are_checked) {
        struct mig_record r;
        ASSERT_OK(parse(MIG_DEVMEM, 1, 16ull << 20, 8192, &r));
        ASSERT_EQ(r.index, 1u);
        ASSERT_EQ(r.addr, 16ull << 20); /* beyond RAM (1 MiB here): not RAM's check */
        ASSERT_EQ(mig_record_payload(&r), 8192u);
        ASSERT_OK(parse(MIG_DEVMEM_ZERO, MIG_DEVMEM_MAX - 1, 0, MIG_DEVMEM_BYTES, &r));
        ASSERT_EQ(mig_record_payload(&r), 0u);
        ASSERT_ERROR(parse(MIG_DEVMEM, MIG_DEVMEM_MAX, 0, 4096, &r), EINVAL);          /* index */
        ASSERT_ERROR(parse(MIG_DEVMEM, 0, 512, 4096, &r), EINVAL);                     /* alignment */
        ASSERT_ERROR(parse(MIG_DEVMEM, 0, 0, 512, &r), EINVAL);
        ASSERT_ERROR(parse(MIG_DEVMEM, 0, 0, 0, &r), EINVAL);                          /* empty */
        ASSERT_ERROR(parse(MIG_DEVMEM, 0, 0, MIG_PAGES_MAX + 4096, &r), EINVAL);       /* one record's payload */
        ASSERT_ERROR(parse(MIG_DEVMEM_ZERO, 0, 4096, MIG_DEVMEM_BYTES, &r), EINVAL);   /* past the limit */
        ASSERT_ERROR(parse(MIG_DEVMEM_ZERO, 0, UINT64_MAX - 4095, 8192, &r), EINVAL);  /* overflow */
        ASSERT_ERROR(parse(MIG_DEVMEM_ZERO + 1, 0, 0, 0, &r), EINVAL);                 /* no such type */
        ASSERT_ERROR(parse_from_destination(MIG_DEVMEM, 4096, &r), EINVAL);
}

TEST(a_stream_with_disk_records_walks_to_its_state) {
        static uint8_t buf[8192];
        struct mig_hello h = hello(MIG_HELLO_COPY_DISKS);
        size_t off = (size_t)mig_hello_encode(&h, buf, sizeof buf);
        uint8_t data[1024];
        memset(data, 7, sizeof data);
        mig_record_encode_index(buf + off, MIG_DISK, 1, 0, sizeof data, vmstate_crc32c(0, data, sizeof data));
        off += MIG_RECORD_HEADER;
        memcpy(buf + off, data, sizeof data);
        off += sizeof data;
        mig_record_encode_index(buf + off, MIG_DISK_ZERO, 1, 1024, 512, 0);
        off += MIG_RECORD_HEADER;
        mig_record_encode(buf + off, MIG_PASS, 1, 0, 0);
        off += MIG_RECORD_HEADER;
        char err[256];
        /* no STATE: the walk ends there, having read the DISK records */
        ASSERT_ERROR(mig_stream_walk(buf, off, &h, NULL, NULL, err, sizeof err), EINVAL);
        ASSERT_TRUE(strstr(err, "before its STATE record") != NULL);
        /* a corrupt payload is found */
        buf[(size_t)mig_hello_encode(&h, buf, sizeof buf) + MIG_RECORD_HEADER] ^= 1;
        ASSERT_ERROR(mig_stream_walk(buf, off, &h, NULL, NULL, err, sizeof err), EINVAL);
        ASSERT_TRUE(strstr(err, "payload CRC mismatch") != NULL);
}

TEST_MAIN()
