// SPDX-License-Identifier: MIT
/* The pure checks of the storage pools' D-Bus calls (vmms/paths.h):
 * which pool a directory is, a name in a pool (no path, no "..", nothing
 * hidden), a file's format by its name, and CreatePoolImage's arguments
 * (format, the name's extension, size, a differencing image's parent). */
#include <stdio.h>
#include <string.h>

#include "common/test.h"
#include "vmms/paths.h"

TEST(pool_find) {
        struct vmms_path_policy p = { .pools = { { .dir = "/a" }, { .dir = "/b", .read_only = true } }, .n_pools = 2 };
        ASSERT_TRUE(vmms_pool_find(&p, "/a") == &p.pools[0]);
        ASSERT_TRUE(vmms_pool_find(&p, "/b")->read_only);
        ASSERT_TRUE(vmms_pool_find(&p, "/a/") == NULL);
        ASSERT_TRUE(vmms_pool_find(&p, "/a/x") == NULL);
        ASSERT_TRUE(vmms_pool_find(&p, "/b:ro") == NULL);
        ASSERT_TRUE(vmms_pool_find(&p, "") == NULL);
}

TEST(pool_name_check) {
        char err[256], longname[300];
        static const char *const good[] = { "a", "web1.vhdx", "A-b_c.9.img", "x..y" };
        static const char *const bad[] = { "", ".", "..", ".hidden.img", "-x.img", "a/b.img", "../a.img", "a b.img",
                                           "a\\b", "ä.img", "a\n.img" };
        for (size_t i = 0; i < sizeof good / sizeof *good; i++)
                ASSERT_OK(vmms_pool_name_check(good[i], "name", err, sizeof err));
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                err[0] = 0;
                ASSERT_ERROR(vmms_pool_name_check(bad[i], "name", err, sizeof err), EINVAL);
                ASSERT_TRUE(!strncmp(err, "name: ", 6));
        }
        memset(longname, 'a', 255);
        longname[255] = 0;
        ASSERT_OK(vmms_pool_name_check(longname, "name", err, sizeof err));
        longname[255] = 'a', longname[256] = 0;
        ASSERT_ERROR(vmms_pool_name_check(longname, "parent", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "parent: must be 1 to 255 characters");
}

TEST(pool_image_format) {
        ASSERT_STREQ(vmms_pool_image_format("a.vhdx"), "vhdx");
        ASSERT_STREQ(vmms_pool_image_format("a.VHDX"), "vhdx");
        ASSERT_STREQ(vmms_pool_image_format("a.avhdx"), "vhdx");
        ASSERT_STREQ(vmms_pool_image_format("d.iso"), "iso");
        ASSERT_STREQ(vmms_pool_image_format("a.img"), "raw");
        ASSERT_STREQ(vmms_pool_image_format("a.raw"), "raw");
        ASSERT_STREQ(vmms_pool_image_format("vmlinuz"), "file");
        ASSERT_STREQ(vmms_pool_image_format(".vhdx"), "file"); /* no name before the extension */
}

TEST(pool_create_check) {
        char err[256];
        ASSERT_OK(vmms_pool_create_check("a.vhdx", "vhdx", 1ull << 20, "", err, sizeof err));
        ASSERT_OK(vmms_pool_create_check("a.img", "raw", 64ull << 40, "", err, sizeof err));
        ASSERT_OK(vmms_pool_create_check("a.raw", "raw", (1ull << 20) + 512, "", err, sizeof err));
        ASSERT_OK(vmms_pool_create_check("c.vhdx", "vhdx", 0, "p.vhdx", err, sizeof err));
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "qcow2", 1ull << 20, "", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "format: must be vhdx or raw, not 'qcow2'");
        ASSERT_ERROR(vmms_pool_create_check("a.img", "vhdx", 1ull << 20, "", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "name: a vhdx image's name ends in .vhdx");
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "raw", 1ull << 20, "", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "vhdx", 0, "", err, sizeof err), EINVAL);
        ASSERT_TRUE(!strncmp(err, "size: 0 bytes", 13));
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "vhdx", (1ull << 20) - 512, "", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "vhdx", (1ull << 20) + 1, "", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "vhdx", (64ull << 40) + 512, "", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("a.vhdx", "vhdx", UINT64_MAX, "", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("../a.vhdx", "vhdx", 1ull << 20, "", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("c.vhdx", "vhdx", 1ull << 20, "p.vhdx", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "size: must be 0 for a differencing image (it has its parent's)");
        ASSERT_ERROR(vmms_pool_create_check("c.vhdx", "vhdx", 0, "p.img", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("c.img", "raw", 0, "p.vhdx", err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_pool_create_check("c.vhdx", "vhdx", 0, "../p.vhdx", err, sizeof err), EINVAL);
        ASSERT_TRUE(!strncmp(err, "parent: ", 8));
        ASSERT_ERROR(vmms_pool_create_check("c.vhdx", "vhdx", 0, "c.vhdx", err, sizeof err), EINVAL);
}

TEST_MAIN();
