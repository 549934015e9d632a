// SPDX-License-Identifier: MIT
/* A cloud-init seed on the migration channel (vmms/migchan.h,
 * docs/migration.md "The cloud-init seed"): the request's "seed" field
 * built, announced and parsed in live, saved and check requests, its
 * refusals, the SEED frame's bound and the bytes' check. */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/test.h"
#include "common/vmstate.h"
#include "vmms/cloud-init.h"
#include "vmms/migchan.h"

#define ID1 "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
#define SEED "/var/lib/vmstack/vms/" ID1 ".cidata.iso"
#define CFG                                                                                                    \
        "{\"name\":\"web1\",\"id\":\"" ID1 "\",\"memory_mib\":512,\"boot\":{\"kind\":\"firmware\"},"           \
        "\"dvd_drives\":[{\"path\":\"/iso/other.iso\"},{\"channel\":1,\"position\":1,\"path\":\"" SEED "\"},{\"channel\":0,\"position\":1}]}"

static struct vm_config *config(void) {
        struct vm_config *c = calloc(1, sizeof *c);
        char err[256];
        if (c && vm_config_parse(CFG, strlen(CFG), c, err, sizeof err) < 0) {
                fprintf(stderr, "config: %s\n", err);
                free(c);
                return NULL;
        }
        return c;
}

/* A seed as vmms makes it (CreateVMWithCloudInit). */
static uint8_t *make_seed(size_t *len) {
        static const char ud[] = "#cloud-config\nhostname: web1\n";
        struct cloud_init_input in = { .data = { ud }, .len = { sizeof ud - 1 } };
        uint8_t *img = NULL;
        char err[256];
        return cloud_init_seed_build(&in, ID1, "web1", 1700000000, &img, len, err, sizeof err) < 0 ? NULL : img;
}

TEST(seed_in_live_saved_and_check_requests) {
        _cleanup_free_ struct vm_config *c = config();
        _cleanup_free_ struct vmms_migchan_request *q = calloc(1, sizeof *q);
        char err[256];
        ASSERT_TRUE(c && q);
        struct vmms_migchan_seed s = { .drive = 1, .size = 53248, .crc32c = 0xdeadbeefu };
        char *reqs[] = { vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, NULL),
                         vmms_migchan_saved_request_build(c, 0, NULL, 1 << 20, true, 0, NULL),
                         vmms_migchan_check_request_build(c, 0, NULL) };
        for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
                ASSERT_NOT_NULL(reqs[i]);
                /* Without a seed: none announced, none parsed. */
                ASSERT_EQ(vmms_migchan_request_seed_size(reqs[i], strlen(reqs[i])), 0);
                ASSERT_OK(vmms_migchan_request_parse(reqs[i], strlen(reqs[i]), q, err, sizeof err));
                ASSERT_FALSE(q->has_seed);
                char *with = vmms_migchan_request_add_seed(reqs[i], &s);
                ASSERT_NOT_NULL(with);
                ASSERT_EQ(vmms_migchan_request_seed_size(with, strlen(with)), 53248);
                ASSERT_OK(vmms_migchan_request_parse(with, strlen(with), q, err, sizeof err));
                ASSERT_TRUE(q->has_seed);
                ASSERT_EQ(q->seed.drive, 1u);
                ASSERT_EQ(q->seed.size, 53248u);
                ASSERT_EQ(q->seed.crc32c, 0xdeadbeefu);
                ASSERT_STREQ(q->config.dvds[1].path, SEED); /* the source's: the destination replaces it */
                free(with);
                free(reqs[i]);
        }
}

TEST(seed_refusals) {
        _cleanup_free_ struct vm_config *c = config();
        _cleanup_free_ struct vmms_migchan_request *q = calloc(1, sizeof *q);
        char err[256], b[16384];
        ASSERT_TRUE(c && q);
        _cleanup_free_ char *live = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, NULL);
        ASSERT_NOT_NULL(live);
        /* Out of bounds: not built. */
        ASSERT_NULL(vmms_migchan_request_add_seed(live, &(struct vmms_migchan_seed){ .drive = 1, .size = 0 }));
        ASSERT_NULL(vmms_migchan_request_add_seed(
                live, &(struct vmms_migchan_seed){ .drive = 1, .size = VMMS_MIGCHAN_SEED_MAX + 1 }));
        /* Sent all the same: refused by the parse, and announced as malformed. */
        static const char *const bad[] = {
                "{\"drive\":1,\"size\":0,\"crc32c\":1}",
                "{\"drive\":1,\"size\":4456449,\"crc32c\":1}",
                "{\"drive\":1,\"size\":10,\"crc32c\":-1}",
                "{\"drive\":1,\"size\":10,\"crc32c\":4294967296}",
                "{\"drive\":4,\"size\":10,\"crc32c\":1}",
                "{\"drive\":1,\"size\":10}",
                "{\"drive\":1,\"size\":10,\"crc32c\":1,\"path\":\"/etc/shadow\"}",
                "{\"drive\":\"1\",\"size\":10,\"crc32c\":1}",
                "[1,10,1]",
        };
        size_t n = strlen(live);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                snprintf(b, sizeof b, "%.*s,\"seed\":%s}", (int)(n - 1), live, bad[i]);
                ASSERT_ERROR(vmms_migchan_request_parse(b, strlen(b), q, err, sizeof err), EINVAL);
                ASSERT_NOT_NULL(strstr(err, "seed: must be"));
                ASSERT_ERROR(vmms_migchan_request_seed_size(b, strlen(b)), EINVAL);
        }
        /* A drive that is not there, or holds no disc. */
        char *with = vmms_migchan_request_add_seed(live, &(struct vmms_migchan_seed){ .drive = 3, .size = 10 });
        ASSERT_ERROR(vmms_migchan_request_parse(with, strlen(with), q, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "seed: drive 3 holds no disc in the configuration");
        free(with);
        with = vmms_migchan_request_add_seed(live, &(struct vmms_migchan_seed){ .drive = 2, .size = 10 });
        ASSERT_ERROR(vmms_migchan_request_parse(with, strlen(with), q, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "seed: drive 2 holds no disc in the configuration");
        free(with);
}

TEST(seed_frame_bound) {
        uint8_t f[VMMS_MIGCHAN_FRAME_SIZE];
        uint32_t len;
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_SEED, VMMS_MIGCHAN_SEED_MAX);
        ASSERT_OK(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_SEED, &len));
        ASSERT_EQ(len, VMMS_MIGCHAN_SEED_MAX);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len), EPROTO);
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_SEED, VMMS_MIGCHAN_SEED_MAX + 1);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_SEED, &len), EMSGSIZE);
        /* The largest seed vmms makes fits: four files of the most each. */
        static uint8_t big[SEED_ISO_FILE_MAX];
        memset(big, 'x', sizeof big);
        struct seed_iso_file files[SEED_ISO_FILES_MAX];
        for (size_t i = 0; i < SEED_ISO_FILES_MAX; i++)
                files[i] = (struct seed_iso_file){ (const char *[]){ "user-data", "meta-data", "network-config",
                                                                     "vendor-data" }[i],
                                                   big, sizeof big };
        _cleanup_free_ uint8_t *img = NULL;
        size_t n;
        ASSERT_OK(seed_iso_build(files, SEED_ISO_FILES_MAX, "cidata", 1700000000, &img, &n));
        ASSERT_LE(n, (size_t)VMMS_MIGCHAN_SEED_MAX);
}

TEST(seed_bytes_checked) {
        size_t n = 0;
        _cleanup_free_ uint8_t *img = make_seed(&n);
        char err[256];
        ASSERT_NOT_NULL(img);
        struct vmms_migchan_seed s = { .drive = 1, .size = (uint32_t)n, .crc32c = vmstate_crc32c(0, img, n) };
        ASSERT_OK(vmms_migchan_seed_check(img, n, &s, err, sizeof err));
        /* Fewer bytes than announced. */
        ASSERT_ERROR(vmms_migchan_seed_check(img, n - 2048, &s, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "the request said"));
        /* Another CRC. */
        s.crc32c ^= 1;
        ASSERT_ERROR(vmms_migchan_seed_check(img, n, &s, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "seed: its CRC-32C differs from the request's");
        /* Cut short, but as announced: its volume is larger than the bytes. */
        s = (struct vmms_migchan_seed){ .drive = 1, .size = 18u * 2048u, .crc32c = vmstate_crc32c(0, img, 18u * 2048u) };
        ASSERT_ERROR(vmms_migchan_seed_check(img, 18u * 2048u, &s, err, sizeof err), EINVAL);
        /* Another label: not a seed. */
        memcpy(img + 16 * 2048 + 40, "CDROM ", 6);
        s = (struct vmms_migchan_seed){ .drive = 1, .size = (uint32_t)n, .crc32c = vmstate_crc32c(0, img, n) };
        ASSERT_ERROR(vmms_migchan_seed_check(img, n, &s, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "seed: not an ISO 9660 image labelled cidata");
        /* cloud-init takes CIDATA too. */
        memcpy(img + 16 * 2048 + 40, "CIDATA", 6);
        s.crc32c = vmstate_crc32c(0, img, n);
        ASSERT_OK(vmms_migchan_seed_check(img, n, &s, err, sizeof err));
        /* No ISO 9660 volume at all. */
        memset(img + 16 * 2048, 0, 2048);
        s.crc32c = vmstate_crc32c(0, img, n);
        ASSERT_ERROR(vmms_migchan_seed_check(img, n, &s, err, sizeof err), EINVAL);
}

TEST_MAIN();
