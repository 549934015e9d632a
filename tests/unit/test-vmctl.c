// SPDX-License-Identifier: MIT
/* vmctl's configuration building: flags -> JSON configuration, and RFC 7386
 * merge patches (with the RFC's own examples). */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/macro.h"
#include "common/test.h"
#include "vmctl/config-build.h"
#include "vmctl/vmctl.h"

static const struct vmctl_build_ctx ctx = { .cwd = "/home/op", .mac_random = { 0xab, 0xcd, 0xef } };

static json_object *build(const char *const *flags) {
        json_object *cfg = json_object_new_object();
        char err[256];
        for (const char *const *f = flags; *f; f += 2)
                if (vmctl_config_set(cfg, f[0], f[1], &ctx, err, sizeof err) < 0) {
                        fprintf(stderr, "%s\n", err);
                        test_fail_(__FILE__, __LINE__, f[0], err);
                }
        return cfg;
}

static void parse_ok(json_object *cfg, struct vm_config *c) {
        char err[256];
        const char *s = json_object_to_json_string(cfg);
        if (vm_config_parse(s, strlen(s), c, err, sizeof err) < 0)
                test_fail_(__FILE__, __LINE__, s, err);
}

TEST(size_parse) {
        uint32_t mib;
        ASSERT_OK(vmctl_size_parse_mib("512", &mib));
        ASSERT_EQ(mib, 512u);
        ASSERT_OK(vmctl_size_parse_mib("512M", &mib));
        ASSERT_EQ(mib, 512u);
        ASSERT_OK(vmctl_size_parse_mib("2G", &mib));
        ASSERT_EQ(mib, 2048u);
        ASSERT_OK(vmctl_size_parse_mib("3GiB", &mib));
        ASSERT_EQ(mib, 3072u);
        ASSERT_OK(vmctl_size_parse_mib("2T", &mib)); /* disk sizes */
        ASSERT_EQ(mib, 2u << 20);
        ASSERT_ERROR(vmctl_size_parse_mib("4096T", &mib), ERANGE);
        ASSERT_ERROR(vmctl_size_parse_mib("2P", &mib), EINVAL);
        ASSERT_ERROR(vmctl_size_parse_mib("", &mib), EINVAL);
        ASSERT_ERROR(vmctl_size_parse_mib("-1", &mib), EINVAL);
        ASSERT_ERROR(vmctl_size_parse_mib("99999999999G", &mib), ERANGE);
        ASSERT_ERROR(vmctl_size_parse_mib("4194304G", &mib), ERANGE);
}

TEST(flags_build_a_valid_config) {
        struct vm_config *c = malloc(sizeof *c);
        json_object *cfg = build((const char *const[]){
                "name", "web1", "memory", "1G", "vcpus", "2", "kernel", "guest.elf", "cmdline", "console=ttyS0",
                "disk", "/img/root.img", "disk", "/img/data.img,ro,sector-size=4096", "disk", "/img/x.img,lun=5,format=vhdx",
                "nic", "auto", "nic", "mac=00:15:5d:00:00:09,bridge=br0,mtu=9000,link=down,queues=2",
                "restart-policy", "on-failure", "stop-timeout", "10", NULL });
        parse_ok(cfg, c);
        ASSERT_STREQ(c->name, "web1");
        ASSERT_EQ(c->memory_mib, 1024u);
        ASSERT_EQ(c->vcpus, 2u);
        ASSERT_STREQ(c->kernel, "/home/op/guest.elf");
        ASSERT_STREQ(c->cmdline, "console=ttyS0");
        ASSERT_EQ(c->n_disks, 3u);
        ASSERT_EQ(c->disks[0].lun, 0u);
        ASSERT_EQ(c->disks[1].lun, 1u); /* the next free LUN */
        ASSERT_TRUE(c->disks[1].read_only);
        ASSERT_EQ(c->disks[1].sector_size, 4096u);
        ASSERT_EQ(c->disks[2].lun, 5u);
        ASSERT_EQ(c->disks[2].format, VM_DISK_VHDX); /* as asked, whatever the extension */
        ASSERT_EQ(c->disks[0].format, VM_DISK_RAW);
        ASSERT_EQ(c->n_nics, 2u);
        static const uint8_t gen[6] = { 0x00, 0x15, 0x5d, 0xab, 0xcd, 0xef };
        ASSERT_MEMEQ(c->nics[0].mac, gen, 6);
        ASSERT_STREQ(c->nics[1].bridge, "br0");
        ASSERT_EQ(c->nics[1].mtu, 9000u);
        ASSERT_FALSE(c->nics[1].link_up);
        ASSERT_EQ(c->nics[1].queues, 2u);
        ASSERT_EQ(c->nics[0].queues, 1u);
        ASSERT_EQ(c->restart_policy, VM_RESTART_ON_FAILURE);
        ASSERT_EQ(c->stop_timeout_s, 10u);
        json_object_put(cfg);
        free(c);
}

TEST(flags_remove_devices) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        json_object *cfg = build((const char *const[]){ "name", "a", "kernel", "/k", "disk", "/d0", "disk", "/d1",
                                                        "nic", "auto", NULL });
        ASSERT_OK(vmctl_config_set(cfg, "remove-disk", "0", &ctx, err, sizeof err));
        ASSERT_OK(vmctl_config_set(cfg, "remove-nic", "0", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_EQ(c->n_disks, 1u);
        ASSERT_STREQ(c->disks[0].path, "/d1");
        ASSERT_EQ(c->n_nics, 0u);
        ASSERT_ERROR(vmctl_config_set(cfg, "remove-nic", "0", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--remove-nic: needs an index below 0 (see vmctl show)");
        json_object_put(cfg);
        free(c);
}

TEST(flag_force_allows_memory_over_host) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        json_object *cfg = build((const char *const[]){ "name", "big", "kernel", "/k", "memory", "200G", NULL });
        parse_ok(cfg, c);
        ASSERT_FALSE(c->allow_memory_over_host);
        ASSERT_OK(vmctl_config_set(cfg, "force", NULL, &ctx, err, sizeof err)); /* --force takes no value */
        parse_ok(cfg, c);
        ASSERT_TRUE(c->allow_memory_over_host);
        ASSERT_EQ(c->memory_mib, 200u * 1024u);
        json_object_put(cfg);
        free(c);
}

TEST(flag_dynamic_memory) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        json_object *cfg = build((const char *const[]){ "name", "dm", "kernel", "/k", "memory", "512M",
                                                        "dynamic-memory", "min=256M,max=2G", NULL });
        parse_ok(cfg, c);
        ASSERT_TRUE(c->dm.enabled);
        ASSERT_EQ(vm_dm_minimum_mib(c), 256u);
        ASSERT_EQ(vm_dm_maximum_mib(c), 2048u);
        ASSERT_EQ(c->dm.buffer_percent, 20u);
        /* a later flag changes only what it names (vmctl edit) */
        ASSERT_OK(vmctl_config_set(cfg, "dynamic-memory", "buffer=50,weight=100", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_EQ(vm_dm_maximum_mib(c), 2048u);
        ASSERT_EQ(c->dm.buffer_percent, 50u);
        ASSERT_EQ(c->dm.weight, 100u);
        ASSERT_OK(vmctl_config_set(cfg, "dynamic-memory", "off", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_FALSE(c->dm.enabled);
        ASSERT_EQ(vm_dm_hot_add_mib(c), 0u);
        ASSERT_ERROR(vmctl_config_set(cfg, "dynamic-memory", "max=lots", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--dynamic-memory: max= needs a size such as 512M or 2G");
        ASSERT_ERROR(vmctl_config_set(cfg, "dynamic-memory", "buffer=1", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--dynamic-memory: buffer= needs a number from 5 to 2000");
        ASSERT_ERROR(vmctl_config_set(cfg, "dynamic-memory", "balloon", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "dynamic-memory", "", &ctx, err, sizeof err), EINVAL);
        json_object_put(cfg);
        free(c);
}

TEST(flag_display) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        json_object *cfg = build((const char *const[]){ "name", "d", "kernel", "/k", "display", "on", NULL });
        parse_ok(cfg, c);
        ASSERT_TRUE(c->display.enabled);
        ASSERT_EQ(c->display.width, 1024u);
        ASSERT_EQ(c->display.vnc_port, 0u);
        /* a later flag changes only what it names (vmctl edit) */
        ASSERT_OK(vmctl_config_set(cfg, "display", "1920x1080,vnc=5901,web=6081", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_EQ(c->display.width, 1920u);
        ASSERT_EQ(c->display.height, 1080u);
        ASSERT_EQ(c->display.vnc_port, 5901u);
        ASSERT_EQ(c->display.web_port, 6081u);
        ASSERT_OK(vmctl_config_set(cfg, "display", "keymap=fr", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_STREQ(c->display.keymap, "fr");
        ASSERT_EQ(c->display.width, 1920u);
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "keymap=FR", &ctx, err, sizeof err), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "keymap=FR: not a keyboard layout"));
        ASSERT_OK(vmctl_config_set(cfg, "display", "web=0", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_EQ(c->display.web_port, 0u);
        ASSERT_EQ(c->display.vnc_port, 5901u);
        ASSERT_OK(vmctl_config_set(cfg, "display", "off", &ctx, err, sizeof err));
        parse_ok(cfg, c);
        ASSERT_FALSE(c->display.enabled);
        ASSERT_EQ(c->display.width, 1920u);
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "4000x3000", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--display: 4000x3000: the resolution must be within 640x480 and 2560x1600");
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "vnc=70000", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--display: vnc= needs a TCP port (1-65535, 0: none)");
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "1024x768x", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "-1x768", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "vga", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "display", "", &ctx, err, sizeof err), EINVAL);
        json_object_put(cfg);
        free(c);
}

TEST(flag_errors_name_the_flag) {
        json_object *cfg = json_object_new_object();
        char err[256];
        ASSERT_ERROR(vmctl_config_set(cfg, "memory", "lots", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--memory: needs a size such as 512, 512M or 2G");
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/x,fast", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--disk: unknown option \"fast\" (ro, bus=, controller=, lun=, sector-size=, format=, "
                          "max-iops=, min-iops=, max-bytes-per-s=)");
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/x,format=qcow2", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/x,lun=99", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "nic", "speed=10", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--nic: unknown option \"speed=10\" (mac=, bridge=, tap=, mtu=, link=, queues=, max-in-bps=, "
                          "max-out-bps=, min-weight=)");
        ASSERT_ERROR(vmctl_config_set(cfg, "nic", "queues=9", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--nic: queues needs a number from 1 to 8");
        ASSERT_ERROR(vmctl_config_set(cfg, "nic", "queues=0", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "vcpus", "two", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "colour", "blue", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--colour: unknown option");
        ASSERT_ERROR(vmctl_config_set(cfg, "kernel", "", &ctx, err, sizeof err), EINVAL);
        json_object_put(cfg);
}

/* --disk's Storage QoS options become the disk's "qos"; bad numbers are
 * the flag's errors, ranges the configuration's. */
TEST(disk_qos_options) {
        json_object *cfg = json_object_new_object(), *d, *q, *v;
        char err[256];
        ASSERT_OK(vmctl_config_set(cfg, "disk", "/x,max-iops=500,min-iops=100,max-bytes-per-s=1048576", &ctx, err,
                                   sizeof err));
        ASSERT_TRUE(json_object_object_get_ex(cfg, "disks", &d));
        d = json_object_array_get_idx(d, 0);
        ASSERT_TRUE(json_object_object_get_ex(d, "qos", &q));
        ASSERT_TRUE(json_object_object_get_ex(q, "max_iops", &v));
        ASSERT_EQ(json_object_get_int64(v), 500);
        ASSERT_TRUE(json_object_object_get_ex(q, "min_iops", &v));
        ASSERT_EQ(json_object_get_int64(v), 100);
        ASSERT_TRUE(json_object_object_get_ex(q, "max_bytes_per_s", &v));
        ASSERT_EQ(json_object_get_int64(v), 1048576);
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/y,max-iops=-1", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--disk: max-iops= needs a number, 0 or more (0: none)");
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/y,min-iops=", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/y,max-bytes-per-s=1e6", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "disk", "/y,max-iops=99999999999999999999", &ctx, err, sizeof err), EINVAL);
        json_object_put(cfg);
}

/* --nic's bandwidth caps become the NIC's "qos"; bad numbers are the
 * flag's errors, ranges the configuration's. */
TEST(nic_qos_options) {
        json_object *cfg = json_object_new_object(), *n, *q, *v;
        char err[256];
        ASSERT_OK(vmctl_config_set(cfg, "nic", "mac=00:15:5d:00:00:01,max-in-bps=100000000,max-out-bps=5000000", &ctx,
                                   err, sizeof err));
        ASSERT_TRUE(json_object_object_get_ex(cfg, "nics", &n));
        n = json_object_array_get_idx(n, 0);
        ASSERT_TRUE(json_object_object_get_ex(n, "qos", &q));
        ASSERT_TRUE(json_object_object_get_ex(q, "max_in_bps", &v));
        ASSERT_EQ(json_object_get_int64(v), 100000000);
        ASSERT_TRUE(json_object_object_get_ex(q, "max_out_bps", &v));
        ASSERT_EQ(json_object_get_int64(v), 5000000);
        ASSERT_ERROR(vmctl_config_set(cfg, "nic", "max-in-bps=-1", &ctx, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "--nic: max-in-bps= needs a number, 0 or more (0: none)");
        ASSERT_ERROR(vmctl_config_set(cfg, "nic", "max-out-bps=100M", &ctx, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmctl_config_set(cfg, "nic", "max-out-bps=", &ctx, err, sizeof err), EINVAL);
        json_object_put(cfg);
}

/* RFC 7386 Appendix A. */
TEST(merge_patch_rfc7386_examples) {
        static const char *const cases[][3] = {
                { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
                { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
                { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
                { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
                { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
                { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
                { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
                { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
                { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
                { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
                { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
                { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
                { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                json_object *t = json_tokener_parse(cases[i][0]), *p = json_tokener_parse(cases[i][1]),
                            *want = json_tokener_parse(cases[i][2]);
                ASSERT_OK(vmctl_merge_patch(&t, p));
                if (!json_object_equal(t, want))
                        test_fail_(__FILE__, __LINE__, cases[i][1], json_object_to_json_string(t));
                json_object_put(t), json_object_put(p), json_object_put(want);
        }
}

TEST(merge_patch_depth_limit) {
        /* Deeper than json-c's parser allows (32), so built by hand. */
        json_object *p = json_object_new_int(1);
        for (int i = 0; i < 40; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "a", p);
                p = o;
        }
        json_object *t = json_object_new_object();
        ASSERT_ERROR(vmctl_merge_patch(&t, p), ELOOP);
        json_object_put(t), json_object_put(p);
}

/* Global options may follow the command; unknown options are '?'. */
TEST(getopt_global_options_after_the_command) {
        static const struct option opts[] = { { "timeout", required_argument, NULL, 't' }, {} };
        char *argv1[] = { (char *)"wait", (char *)"vm1", (char *)"--json", (char *)"Off", (char *)"-q", (char *)"--timeout=3", (char *)"--address=unix:path=/x", NULL };
        struct vmctl c = { 0 };
        int o, seen = 0;
        optind = 0;
        while ((o = vmctl_getopt(&c, 7, argv1, opts)) >= 0) {
                ASSERT_EQ(o, 't');
                ASSERT_STREQ(optarg, "3");
                seen++;
        }
        ASSERT_EQ(seen, 1);
        ASSERT_TRUE(c.json && c.quiet);
        ASSERT_STREQ(c.address, "unix:path=/x");
        ASSERT_EQ(vmctl_check_args(7, argv1, 2), 0); /* vm1 Off */
        ASSERT_EQ(vmctl_check_args(7, argv1, 1), 2);

        char *argv2[] = { (char *)"list", (char *)"--bogus", NULL };
        optind = 0;
        ASSERT_EQ(vmctl_getopt(&c, 2, argv2, NULL), '?');
        char *argv3[] = { (char *)"wait", (char *)"vm1", (char *)"--timeout", NULL };
        optind = 0;
        ASSERT_EQ(vmctl_getopt(&c, 3, argv3, opts), '?');
        char *argv4[] = { (char *)"list", (char *)"extra", NULL };
        optind = 0;
        ASSERT_EQ(vmctl_getopt(&c, 2, argv4, NULL), -1);
        ASSERT_EQ(vmctl_check_args(2, argv4, 0), 2);
}

TEST_MAIN();
