// SPDX-License-Identifier: MIT
/* seed_iso_build and cloud_init_seed_build (vmms/seed-iso.h,
 * vmms/cloud-init.h): the image's descriptors and directories as ECMA-119
 * and Joliet lay them out, the same bytes for the same input, the refusals
 * (too large, empty, bad names, too many files); then the image read by
 * independent tools where they are installed: xorriso lists the Joliet
 * names and osirrox extracts the very bytes, blkid says LABEL=cidata and
 * TYPE=iso9660 (what cloud-init's ds-identify and find_devs_with ask).
 * vmms/seed.h: the seed's path, and the DVD drive it goes into. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "common/test.h"
#include "vmms/cloud-init.h"
#include "vmms/seed-iso.h"
#include "vmms/seed.h"

#define B SEED_ISO_BLOCK
#define T0 1764400000 /* 2025-11-29 07:06:40 UTC */

static const char user_data[] = "#cloud-config\nhostname: web1\nwrite_files:\n- path: /run/x\n  content: hi\n";
static const char meta_data[] = "instance-id: i-1\nlocal-hostname: web1\n";
static const char net_config[] = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static void build3(uint8_t **img, size_t *len) {
        const struct seed_iso_file f[] = {
                { "user-data", user_data, strlen(user_data) },
                { "meta-data", meta_data, strlen(meta_data) },
                { "network-config", net_config, strlen(net_config) },
        };
        ASSERT_OK(seed_iso_build(f, 3, "cidata", T0, img, len));
}

/* The directory record named id (len bytes) in the root directory at blk. */
static const uint8_t *find_record(const uint8_t *img, uint32_t blk, const uint8_t *id, size_t len) {
        const uint8_t *d = img + (size_t)blk * B;
        for (size_t off = 0; off < B && d[off];) {
                if (d[off + 32] == len && !memcmp(d + off + 33, id, len))
                        return d + off;
                off += d[off];
        }
        return NULL;
}

TEST(descriptors) {
        _cleanup_free_ uint8_t *img = NULL;
        size_t len;
        build3(&img, &len);
        ASSERT_EQ(len % B, 0u);
        const uint8_t *pvd = img + 16 * B, *svd = img + 17 * B, *term = img + 18 * B;
        ASSERT_EQ(pvd[0], 1);
        ASSERT_MEMEQ(pvd + 1, "CD001", 5);
        ASSERT_MEMEQ(pvd + 40, "cidata                          ", 32);
        ASSERT_EQ(le32(pvd + 80), len / B); /* volume space size, both byte orders */
        ASSERT_EQ(be32(pvd + 84), len / B);
        ASSERT_MEMEQ(pvd + 813, "2025112907064000", 16);
        ASSERT_EQ(svd[0], 2);
        ASSERT_MEMEQ(svd + 88, "%/E", 3); /* Joliet UCS-2 level 3 */
        ASSERT_MEMEQ(svd + 40, "\0c\0i\0d\0a\0t\0a\0 ", 14);
        ASSERT_EQ(term[0], 255);
        ASSERT_MEMEQ(term + 1, "CD001", 5);
        /* Each descriptor's root directory holds the three files; the
         * primary's under d-character names, Joliet's under their own. */
        uint32_t root = le32(pvd + 156 + 2), jroot = le32(svd + 156 + 2);
        ASSERT_NE(root, jroot);
        const uint8_t *r1 = find_record(img, root, (const uint8_t *)"USER_DATA.;1", 12);
        const uint8_t *r2 = find_record(img, jroot, (const uint8_t *)"\0u\0s\0e\0r\0-\0d\0a\0t\0a", 18);
        const uint8_t *r3 = find_record(img, jroot, (const uint8_t *)"\0n\0e\0t\0w\0o\0r\0k\0-\0c\0o\0n\0f\0i\0g", 28);
        ASSERT_NOT_NULL(r1);
        ASSERT_NOT_NULL(r2);
        ASSERT_NOT_NULL(r3);
        ASSERT_EQ(le32(r1 + 2), le32(r2 + 2)); /* one copy of the data */
        ASSERT_EQ(le32(r2 + 10), strlen(user_data));
        ASSERT_EQ(be32(r2 + 14), strlen(user_data));
        ASSERT_MEMEQ(img + (size_t)le32(r2 + 2) * B, user_data, strlen(user_data));
        ASSERT_MEMEQ(img + (size_t)le32(r3 + 2) * B, net_config, strlen(net_config));
        /* 9.3: records in identifier order ("META" < "NETWORK" < "USER"). */
        const uint8_t *m = find_record(img, root, (const uint8_t *)"META_DATA.;1", 12);
        ASSERT_NOT_NULL(m);
        ASSERT_LT(m, r1);
}

TEST(deterministic) {
        _cleanup_free_ uint8_t *a = NULL, *b = NULL, *c = NULL;
        size_t la, lb, lc;
        build3(&a, &la);
        build3(&b, &lb);
        ASSERT_EQ(la, lb);
        ASSERT_MEMEQ(a, b, la);
        const struct seed_iso_file f = { "user-data", user_data, strlen(user_data) };
        ASSERT_OK(seed_iso_build(&f, 1, "cidata", T0 + 1, &c, &lc));
        ASSERT_MEMEQ(c + 16 * B + 813, "2025112907064100", 16);
}

TEST(refusals) {
        uint8_t *img = NULL;
        size_t len = 0;
        static char big[SEED_ISO_FILE_MAX + 1];
        struct seed_iso_file f[5] = {
                { "user-data", user_data, strlen(user_data) },
                { "meta-data", meta_data, strlen(meta_data) },
        };
        ASSERT_ERROR(seed_iso_build(f, 2, "CIDATA", T0, &img, &len), EINVAL);  /* label: lower case */
        ASSERT_ERROR(seed_iso_build(f, 2, "", T0, &img, &len), EINVAL);
        ASSERT_ERROR(seed_iso_build(f, 2, "a_label_too_long_", T0, &img, &len), EINVAL);
        ASSERT_ERROR(seed_iso_build(f, 2, "cidata", -1, &img, &len), EINVAL);
        f[1].name = "user-data";
        ASSERT_ERROR(seed_iso_build(f, 2, "cidata", T0, &img, &len), EEXIST);
        f[1].name = "Meta-Data";
        ASSERT_ERROR(seed_iso_build(f, 2, "cidata", T0, &img, &len), EINVAL);
        f[1].name = "../meta-data";
        ASSERT_ERROR(seed_iso_build(f, 2, "cidata", T0, &img, &len), EINVAL);
        f[1].name = "meta-data";
        f[1].len = 0;
        ASSERT_ERROR(seed_iso_build(f, 2, "cidata", T0, &img, &len), ENODATA);
        f[1] = (struct seed_iso_file){ "meta-data", big, sizeof big };
        ASSERT_ERROR(seed_iso_build(f, 2, "cidata", T0, &img, &len), EFBIG);
        f[1].len = SEED_ISO_FILE_MAX; /* the bound itself is fine */
        ASSERT_OK(seed_iso_build(f, 2, "cidata", T0, &img, &len));
        ASSERT_EQ(len, (size_t)(25 + 1 + SEED_ISO_FILE_MAX / B) * B);
        free(img);
        img = NULL;
        for (int i = 1; i < 5; i++)
                f[i] = (struct seed_iso_file){ (const char *[]){ "a", "b", "c", "d" }[i - 1], "x", 1 };
        ASSERT_ERROR(seed_iso_build(f, 5, "cidata", T0, &img, &len), E2BIG);
        ASSERT_NULL(img);
}

TEST(cloud_init_defaults_and_errors) {
        struct cloud_init_input in = { 0 };
        _cleanup_free_ uint8_t *img = NULL;
        size_t len;
        char err[256] = "";
        ASSERT_ERROR(cloud_init_seed_build(&in, "3f2e", "web1", T0, &img, &len, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "cloud-init user-data: required");
        in.data[CLOUD_INIT_USER_DATA] = "";
        ASSERT_ERROR(cloud_init_seed_build(&in, "3f2e", "web1", T0, &img, &len, err, sizeof err), ENODATA);
        ASSERT_STREQ(err, "cloud-init user-data: empty");
        in.data[CLOUD_INIT_USER_DATA] = user_data;
        in.len[CLOUD_INIT_USER_DATA] = CLOUD_INIT_FILE_MAX + 1;
        ASSERT_ERROR(cloud_init_seed_build(&in, "3f2e", "web1", T0, &img, &len, err, sizeof err), EFBIG);
        ASSERT_STREQ(err, "cloud-init user-data: larger than a seed file may hold (1048576 bytes, 1 MiB)");
        in.len[CLOUD_INIT_USER_DATA] = strlen(user_data);
        in.data[CLOUD_INIT_NETWORK_CONFIG] = net_config;
        ASSERT_ERROR(cloud_init_seed_build(&in, "3f2e", "web1", T0, &img, &len, err, sizeof err), ENODATA);
        ASSERT_STREQ(err, "cloud-init network-config: empty");
        in.data[CLOUD_INIT_NETWORK_CONFIG] = NULL;
        ASSERT_OK(cloud_init_seed_build(&in, "3f2e", "1.5", T0, &img, &len, err, sizeof err));
        const char *want = "instance-id: \"3f2e\"\nlocal-hostname: \"1.5\"\n";
        const uint8_t *r = find_record(img, le32(img + 17 * B + 156 + 2),
                                       (const uint8_t *)"\0m\0e\0t\0a\0-\0d\0a\0t\0a", 18);
        ASSERT_NOT_NULL(r);
        ASSERT_EQ(le32(r + 10), strlen(want));
        ASSERT_MEMEQ(img + (size_t)le32(r + 2) * B, want, strlen(want));
        ASSERT_EQ(cloud_init_file_from_name("network-config"), (int)CLOUD_INIT_NETWORK_CONFIG);
        ASSERT_ERROR(cloud_init_file_from_name("vendor-data"), EINVAL);
}

TEST(seed_path_and_drive) {
        struct guid id = { 0 }, other = { 0 };
        char path[256], err[256];
        id.b[0] = 0x3f, other.b[0] = 0x40;
        ASSERT_OK(vmms_seed_path("/var/lib/vmstack/vms", &id, path, sizeof path));
        ASSERT_STREQ(path, "/var/lib/vmstack/vms/0000003f-0000-0000-0000-000000000000.cidata.iso");
        ASSERT_TRUE(vmms_path_is_seed("/var/lib/vmstack/vms", &id, path));
        ASSERT_FALSE(vmms_path_is_seed("/var/lib/vmstack/vms", &other, path)); /* another VM's */
        ASSERT_FALSE(vmms_path_is_seed("/var/lib/vmstack", &id, path));
        ASSERT_FALSE(vmms_path_is_seed("", &id, path));
        ASSERT_TRUE(vmms_seed_field_is_own("dvd_drives[2].path", "/var/lib/vmstack/vms", &id, path));
        ASSERT_FALSE(vmms_seed_field_is_own("disks[0].path", "/var/lib/vmstack/vms", &id, path));
        ASSERT_ERROR(vmms_seed_path("/var/lib/vmstack/vms", &id, path, 40), ENAMETOOLONG);

        _cleanup_free_ struct vm_config *c = calloc(1, sizeof *c);
        ASSERT_NOT_NULL(c);
        /* No drive: a new one at the secondary master. */
        ASSERT_EQ(vmms_seed_place(c, "/s/a.iso", err, sizeof err), 0);
        ASSERT_EQ(c->n_dvds, 1u);
        ASSERT_EQ(c->dvds[0].channel, 1u);
        ASSERT_EQ(c->dvds[0].position, 0u);
        ASSERT_STREQ(c->dvds[0].path, "/s/a.iso");
        /* That one holds a disc: the slave, then (the slave an IDE disk's)
         * the primary slave. */
        ASSERT_EQ(vmms_seed_place(c, "/s/b.iso", err, sizeof err), 1);
        ASSERT_EQ(c->dvds[1].channel * 2 + c->dvds[1].position, 3u);
        c->n_dvds = 1;
        c->n_disks = 1;
        c->disks[0].bus = VM_DISK_IDE, c->disks[0].lun = 3;
        ASSERT_EQ(vmms_seed_place(c, "/s/b.iso", err, sizeof err), 1);
        ASSERT_EQ(c->dvds[1].channel * 2 + c->dvds[1].position, 1u);
        /* An empty drive takes it before any new one. */
        c->dvds[0].path[0] = 0;
        ASSERT_EQ(vmms_seed_place(c, "/s/c.iso", err, sizeof err), 0);
        ASSERT_STREQ(c->dvds[0].path, "/s/c.iso");
        ASSERT_EQ(c->n_dvds, 2u);
        /* Every position taken (lun 0 by a disk), every drive full. */
        c->n_disks = 2;
        c->disks[1].bus = VM_DISK_IDE, c->disks[1].lun = 0;
        ASSERT_ERROR(vmms_seed_place(c, "/s/d.iso", err, sizeof err), ENOSPC);
        ASSERT_TRUE(strstr(err, "no free IDE position") != NULL);
        ASSERT_EQ(c->n_dvds, 2u);
}

/* The image as others read it: xorriso (libisofs) and blkid (libblkid). */
static char dir[] = "/tmp/test-seed-iso-XXXXXX";

static void run_ok(const char *cmd) {
        int s = system(cmd);
        if (s != 0)
                fprintf(stderr, "failed (%d): %s\n", s, cmd);
        ASSERT_EQ(s, 0);
}

static void expect_file(const char *name, const char *want) {
        char p[256];
        _cleanup_free_ char *got = NULL;
        size_t n;
        snprintf(p, sizeof p, "%s/x/%s", dir, name);
        ASSERT_OK(read_file(p, 1 << 20, &got, &n));
        ASSERT_EQ(n, strlen(want));
        ASSERT_MEMEQ(got, want, n);
}

TEST(read_by_other_tools) {
        _cleanup_free_ uint8_t *img = NULL;
        size_t len;
        char iso[128], cmd[768];
        build3(&img, &len);
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(iso, sizeof iso, "%s/seed.iso", dir);
        ASSERT_OK(write_file_atomic(iso, img, len, 0600));
        if (test_have_program("xorriso", "xorriso")) {
                /* Joliet's names (-rr off: there is no Rock Ridge to prefer). */
                snprintf(cmd, sizeof cmd,
                         "xorriso -abort_on FAILURE -indev %s -find / -type f -exec lsdl -- 2>/dev/null | "
                         "grep -o \"'/[a-z-]*'\" | sort | tr '\\n' ' ' >%s/list", iso, dir);
                run_ok(cmd);
                snprintf(cmd, sizeof cmd, "%s/list", dir);
                _cleanup_free_ char *list = NULL;
                size_t n;
                ASSERT_OK(read_file(cmd, 4096, &list, &n));
                ASSERT_STREQ(list, "'/meta-data' '/network-config' '/user-data' ");
                snprintf(cmd, sizeof cmd, "osirrox -abort_on FAILURE -indev %s -extract / %s/x >/dev/null 2>&1", iso,
                         dir);
                run_ok(cmd);
                expect_file("user-data", user_data);
                expect_file("meta-data", meta_data);
                expect_file("network-config", net_config);
        }
        if (test_have_program("blkid", "util-linux")) {
                snprintf(cmd, sizeof cmd,
                         "test \"$(blkid -p -o value -s LABEL %s)\" = cidata && "
                         "test \"$(blkid -p -o value -s TYPE %s)\" = iso9660", iso, iso);
                run_ok(cmd);
        }
        ASSERT_OK(test_remove_tree(dir));
}

TEST_MAIN()
