// SPDX-License-Identifier: MIT
/* CPU features across a move (common/cpufeat.h, vid/state.h "CPID",
 * docs/migration.md "Hello"): synthetic CPUID tables compared as a restore
 * and a migration destination compare them (a subset passes, a superset
 * too, each missing bit is named, the vendor and address width are
 * checked); the CPID section's decoder and the hello's CPU block refuse
 * garbage. */
#include <errno.h>
#include <string.h>

#include "common/cpufeat.h"
#include "common/macro.h"
#include "common/migstream.h"
#include "common/test.h"
#include "common/vmstate.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "vid/state.h"

static void put(struct vid_cpuid_state *st, uint32_t fn, uint32_t idx, uint32_t a, uint32_t b, uint32_t c,
                uint32_t d) {
        uint32_t i = st->n_function;
        st->function[i] = fn, st->index[i] = idx, st->flags[i] = (fn == 7 || fn == 0xd) ? 1u : 0u;
        st->eax[i] = a, st->ebx[i] = b, st->ecx[i] = c, st->edx[i] = d;
        st->n_function = st->n_index = st->n_flags = st->n_eax = st->n_ebx = st->n_ecx = st->n_edx = i + 1;
}

/* "GenuineIntel": EBX "Genu", EDX "ineI", ECX "ntel". */
#define INTEL 0x756e6547u, 0x6c65746eu, 0x49656e69u
#define AMD 0x68747541u, 0x444d4163u, 0x69746e65u

/* A host table: AVX2, AVX-512F/BW, SSE4.2, XCR0 x87|SSE|AVX|opmask|ZMM,
 * XSAVEOPT, LM/NX, invariant TSC, 46 physical address bits. */
static void host_table(struct vid_cpuid_state *st) {
        memset(st, 0, sizeof *st);
        put(st, 0, 0, 0xd, INTEL);
        put(st, 1, 0, 0x806f8, 0, 1u << 20 | 1u << 26 | 1u << 28, 1u << 0 | 1u << 25 | 1u << 26);
        put(st, 7, 0, 0, 1u << 5 | 1u << 16 | 1u << 30, 0, 0);
        put(st, 0xd, 0, 0xe7, 0, 0, 0);
        put(st, 0xd, 1, 1u << 0, 0, 0, 0);
        put(st, 0x80000001u, 0, 0, 0, 1u << 0, 1u << 20 | 1u << 29);
        put(st, 0x80000007u, 0, 0, 0, 0, 1u << 8);
        put(st, 0x80000008u, 0, 0x302e, 0, 0, 0);
}

static int compare(const struct vid_cpuid_state *guest, const struct vid_cpuid_state *host, char *err, size_t n) {
        struct cpufeat g, h;
        vid_cpuid_state_features(guest, &g);
        vid_cpuid_state_features(host, &h);
        return cpufeat_missing(&g, &h, err, n);
}

static struct vid_cpuid_state host, guest;

TEST(subset_and_equal_pass) {
        char err[512] = "";
        host_table(&host);
        guest = host;
        ASSERT_OK(compare(&guest, &host, err, sizeof err));
        /* An older host's guest: fewer features, fewer address bits. */
        guest.ebx[2] = 1u << 5;
        guest.eax[3] = 0x7;
        guest.eax[7] = 0x3027;
        ASSERT_OK(compare(&guest, &host, err, sizeof err));
        /* The guest's own CR4 bits and the hypervisor bit are not features. */
        guest.ecx[1] |= 1u << 27 | 1u << 31;
        guest.ecx[2] |= 1u << 4;
        ASSERT_OK(compare(&guest, &host, err, sizeof err));
        /* A leaf the guest was not offered at all. */
        guest.n_function = guest.n_index = guest.n_flags = guest.n_eax = guest.n_ebx = guest.n_ecx = guest.n_edx = 2;
        ASSERT_OK(compare(&guest, &host, err, sizeof err));
}

TEST(each_missing_bit_named) {
        static const struct {
                unsigned entry;
                char reg;
                uint32_t bit;
                const char *name;
        } cases[] = {
                { 2, 'b', 17, "avx512dq" },
                { 2, 'b', 31, "avx512vl" },
                { 2, 'd', 12, "CPUID 0x7.0 EDX bit 12" },
                { 1, 'c', 30, "rdrand" },
                { 1, 'd', 8, "cx8" },
                { 3, 'a', 17, "xcr0:xtilecfg" },
                { 3, 'd', 0, "CPUID 0xD.0 EDX bit 0" },
                { 4, 'a', 3, "xsaves" },
                { 5, 'c', 6, "sse4a" },
                { 5, 'd', 27, "rdtscp" },
                { 6, 'd', 0, "CPUID 0x80000007 EDX bit 0" },
                { 7, 'b', 9, "wbnoinvd" },
        };
        char err[512];
        host_table(&host);
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                guest = host;
                uint32_t *r = cases[i].reg == 'a'   ? &guest.eax[cases[i].entry]
                              : cases[i].reg == 'b' ? &guest.ebx[cases[i].entry]
                              : cases[i].reg == 'c' ? &guest.ecx[cases[i].entry]
                                                    : &guest.edx[cases[i].entry];
                *r |= 1u << cases[i].bit;
                ASSERT_ERROR(compare(&guest, &host, err, sizeof err), ENOTSUP);
                if (!strstr(err, cases[i].name) || !strstr(err, "lacks a feature"))
                        ASSERT_STREQ(err, cases[i].name);
        }
        /* Several at once: all named, in leaf order. */
        guest = host;
        guest.ebx[2] |= 1u << 17 | 1u << 31;
        guest.edx[2] |= 1u << 24;
        ASSERT_ERROR(compare(&guest, &host, err, sizeof err), ENOTSUP);
        ASSERT_STREQ(err, "this host's CPU lacks features the guest was offered: avx512dq, avx512vl, amx_tile");
        /* A leaf the host does not have: every bit the guest saw in it. */
        guest = host;
        put(&guest, 7, 1, 1u << 4 | 1u << 5, 0, 0, 0);
        ASSERT_ERROR(compare(&guest, &host, err, sizeof err), ENOTSUP);
        ASSERT_STREQ(err, "this host's CPU lacks features the guest was offered: avx_vnni, avx512_bf16");
        /* Every bit of every word: the list ends with "..." when it is full. */
        guest = host;
        for (unsigned e = 1; e < 8; e++)
                guest.eax[e] = guest.ebx[e] = guest.ecx[e] = guest.edx[e] = 0xffffffffu;
        guest.eax[7] = 0x302e;
        ASSERT_ERROR(compare(&guest, &host, err, sizeof err), ENOTSUP);
        ASSERT_NOT_NULL(strstr(err, ", ..."));
}

TEST(vendor_and_address_width) {
        char err[512];
        host_table(&host);
        guest = host;
        guest.ebx[0] = 0x68747541u, guest.edx[0] = 0x69746e65u, guest.ecx[0] = 0x444d4163u;
        ASSERT_ERROR(compare(&guest, &host, err, sizeof err), ENOTSUP);
        ASSERT_STREQ(err, "the guest ran on a AuthenticAMD CPU, this host's is GenuineIntel");
        guest = host;
        guest.eax[7] = 0x3030;
        ASSERT_ERROR(compare(&guest, &host, err, sizeof err), ENOTSUP);
        ASSERT_STREQ(err, "the guest was offered 48 physical address bits, this host's CPU has 46");
}

static int decode(const struct vmstate_section *s, void *out, char *err, size_t errlen) {
        return vid_cpuid_state_decode(s, out, err, errlen);
}

/* st as a CPID section, decoded: 0 or the decoder's error in err. */
static int section_decode(const struct vid_cpuid_state *st, char *err, size_t errlen) {
        uint8_t *buf;
        size_t len;
        ASSERT_OK(vmstate_test_encode(&vid_cpuid_state_desc, 0, st, &buf, &len));
        struct vmstate_section secs[2];
        ASSERT_EQ(vmstate_index(buf, len, NULL, secs, 2, err, errlen), 1);
        static struct vid_cpuid_state back;
        int r = vid_cpuid_state_decode(&secs[0], &back, err, errlen);
        free(buf);
        return r;
}

TEST(cpid_section_round_trip_and_refusals) {
        char err[512];
        host_table(&host);
        ASSERT_TRUE(vmstate_test_round_trip(&vid_cpuid_state_desc, 0, &host, sizeof host, decode));
        guest = host;
        guest.n_edx--;
        ASSERT_ERROR(section_decode(&guest, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section CPID: its arrays differ in length");
        guest = host;
        guest.flags[2] = 6;
        ASSERT_ERROR(section_decode(&guest, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section CPID: entry 2 has unknown flags 0x6");
        guest = host;
        guest.function[4] = 0xd, guest.index[4] = 0;
        ASSERT_ERROR(section_decode(&guest, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section CPID: leaf 0xd.0 twice");
        guest = host;
        guest.function[1] = 2;
        ASSERT_ERROR(section_decode(&guest, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section CPID: no leaf 1");
        memset(&guest, 0, sizeof guest);
        ASSERT_ERROR(section_decode(&guest, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "section CPID: no leaf 0");
}

static int hello(const struct cpufeat *src, const struct cpufeat *dst, char *err, size_t errlen) {
        struct mig_hello h = { .page_size = MIG_PAGE_SIZE, .ram_bytes = 32u << 20, .vcpus = 1, .cpu = *src };
        strcpy(h.shape, "uart,acpi-pm");
        uint8_t buf[MIG_HELLO_MAX];
        int n = mig_hello_encode(&h, buf, sizeof buf);
        ASSERT_EQ(n, (int)(MIG_HELLO_HEADER + 16 + CPUFEAT_BYTES));
        struct mig_hello back, mine = h;
        mine.cpu = *dst;
        ASSERT_EQ(mig_hello_parse(buf, (size_t)n - 1, &back, err, errlen), 0);
        ASSERT_EQ(mig_hello_size(buf), (size_t)n);
        ASSERT_EQ(mig_hello_parse(buf, (size_t)n, &back, err, errlen), n);
        ASSERT_MEMEQ(back.cpu.word, src->word, sizeof src->word);
        ASSERT_STREQ(back.cpu.vendor, src->vendor);
        ASSERT_EQ(back.cpu.phys_bits, src->phys_bits);
        return mig_hello_check(&back, &mine, err, errlen);
}

TEST(hello_carries_the_features) {
        char err[512];
        struct cpufeat h, g;
        host_table(&host);
        vid_cpuid_state_features(&host, &h);
        g = h;
        ASSERT_OK(hello(&g, &h, err, sizeof err));
        g.word[CPUFEAT_7_0_EBX] |= 1u << 17;
        ASSERT_ERROR(hello(&g, &h, err, sizeof err), ENOTSUP);
        ASSERT_STREQ(err, "this host's CPU lacks a feature the guest was offered: avx512dq");

        /* Garbage in the block: another length, the reserved word, the width. */
        struct mig_hello m = { .page_size = MIG_PAGE_SIZE, .ram_bytes = 32u << 20, .vcpus = 1, .cpu = h };
        uint8_t buf[MIG_HELLO_MAX];
        int n = mig_hello_encode(&m, buf, sizeof buf);
        ASSERT_GT(n, 0);
        struct mig_hello back;
        uint8_t bad[MIG_HELLO_MAX];
        memcpy(bad, buf, (size_t)n);
        vmstate_put_le32(bad + 40, CPUFEAT_BYTES + 8);
        ASSERT_ERROR(mig_hello_parse(bad, (size_t)n, &back, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "hello: CPU features of 80 bytes (this build reads 72)");
        vmstate_put_le32(bad + 40, 0);
        ASSERT_ERROR(mig_hello_parse(bad, (size_t)n, &back, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "hello: CPU features of 0 bytes (this build reads 72)");
        /* A bit flipped in the block: the CRC covers it. */
        memcpy(bad, buf, (size_t)n);
        bad[n - 20] ^= 1;
        ASSERT_ERROR(mig_hello_parse(bad, (size_t)n, &back, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "hello: CRC mismatch (corrupt stream)");
        uint8_t block[CPUFEAT_BYTES];
        struct cpufeat f;
        cpufeat_encode(&h, block);
        ASSERT_OK(cpufeat_decode(block, sizeof block, &f, err, sizeof err));
        ASSERT_MEMEQ(&f, &h, sizeof f);
        ASSERT_ERROR(cpufeat_decode(block, sizeof block - 4, &f, err, sizeof err), EINVAL);
        block[CPUFEAT_BYTES - 1] = 1;
        ASSERT_ERROR(cpufeat_decode(block, sizeof block, &f, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "CPU features: a nonzero reserved word");
        cpufeat_encode(&h, block);
        vmstate_put_le32(block + 12, 65);
        ASSERT_ERROR(cpufeat_decode(block, sizeof block, &f, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "CPU features: 65 physical address bits");
        /* A vendor made printable. */
        cpufeat_encode(&h, block);
        block[3] = 0x07;
        ASSERT_OK(cpufeat_decode(block, sizeof block, &f, err, sizeof err));
        ASSERT_STREQ(f.vendor, "Gen?ineIntel");
}

TEST_MAIN()
