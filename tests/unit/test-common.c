// SPDX-License-Identifier: MIT
/* common/: GUIDs, the VM configuration parser, logging ratelimit, the
 * vmms<->vmwp message transport and file helpers. */
#include <json-c/json.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/fd-util.h"
#include "common/guid.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/test.h"

TEST(guid_wire_order) {
        /* docs/hyperv-guest-interface.md §0: the SCSI class GUID on the wire. */
        static const uint8_t wire[16] = { 0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
                                          0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f };
        struct guid g;
        ASSERT_OK(guid_from_string("ba6163d9-04a1-4d29-b605-72e2ffb1dc7f", &g));
        ASSERT_MEMEQ(g.b, wire, 16);
        static const struct guid c = GUID_INIT(0xba6163d9, 0x04a1, 0x4d29, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1,
                                               0xdc, 0x7f);
        ASSERT_TRUE(guid_equal(&g, &c));
        char s[GUID_STRING_MAX];
        ASSERT_STREQ(guid_to_string(&g, s), "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f");
        ASSERT_OK(guid_from_string("BA6163D9-04A1-4D29-B605-72E2FFB1DC7F", &g));
        ASSERT_TRUE(guid_equal(&g, &c));
}

TEST(guid_rejects_malformed) {
        struct guid g;
        ASSERT_ERROR(guid_from_string("ba6163d9-04a1-4d29-b605-72e2ffb1dc7", &g), EINVAL);
        ASSERT_ERROR(guid_from_string("ba6163d9x04a1-4d29-b605-72e2ffb1dc7f", &g), EINVAL);
        ASSERT_ERROR(guid_from_string("ga6163d9-04a1-4d29-b605-72e2ffb1dc7f", &g), EINVAL);
        ASSERT_ERROR(guid_from_string("", &g), EINVAL);
        ASSERT_ERROR(guid_from_string(NULL, &g), EINVAL);
}

TEST(guid_generate_and_derive) {
        struct guid a, b, ns;
        ASSERT_OK(guid_generate(&a));
        ASSERT_OK(guid_generate(&b));
        ASSERT_FALSE(guid_equal(&a, &b));
        ASSERT_EQ(a.b[7] >> 4, 4); /* version 4 */
        ASSERT_EQ(a.b[8] & 0xc0, 0x80);
        ASSERT_OK(guid_from_string("00112233-4455-6677-8899-aabbccddeeff", &ns));
        guid_derive(&ns, "scsi0", &a);
        guid_derive(&ns, "scsi0", &b);
        ASSERT_TRUE(guid_equal(&a, &b)); /* stable */
        guid_derive(&ns, "scsi1", &b);
        ASSERT_FALSE(guid_equal(&a, &b));
}

static const char good_config[] =
        "{ \"name\": \"web-1\", \"id\": \"00112233-4455-6677-8899-aabbccddeeff\", \"memory_mib\": 512,"
        "  \"vcpus\": 2, \"boot\": { \"kind\": \"linux\", \"kernel\": \"/k/bzImage\","
        "  \"initrd\": \"/k/initrd\", \"cmdline\": \"console=ttyS0\" },"
        "  \"disks\": [ { \"path\": \"/img/a.raw\" }, { \"path\": \"/img/b.raw\", \"lun\": 1,"
        "               \"read_only\": true, \"sector_size\": 4096 } ],"
        "  \"nics\": [ { \"mac\": \"00:15:5d:00:00:01\", \"bridge\": \"br0\", \"queues\": 2 } ],"
        "  \"integration\": { \"kvp\": false, \"fcopy\": true }, \"restart_policy\": \"on-failure\","
        "  \"allow_memory_over_host\": true, \"checkpoint_type\": \"production-only\" }";

TEST(config_parse_good) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        ASSERT_OK(vm_config_parse(good_config, strlen(good_config), c, err, sizeof err));
        ASSERT_STREQ(c->name, "web-1");
        ASSERT_EQ(c->memory_mib, 512u);
        ASSERT_EQ(c->vcpus, 2u);
        ASSERT_EQ(c->boot_kind, VM_BOOT_LINUX);
        ASSERT_STREQ(c->initrd, "/k/initrd");
        ASSERT_EQ(c->n_disks, 2u);
        ASSERT_EQ(c->disks[0].sector_size, 512u);
        ASSERT_EQ(c->disks[1].lun, 1u);
        ASSERT_TRUE(c->disks[1].read_only);
        ASSERT_EQ(c->disks[1].sector_size, 4096u);
        ASSERT_EQ(c->n_nics, 1u);
        ASSERT_EQ(c->nics[0].mac[5], 1);
        ASSERT_EQ(c->nics[0].mtu, 1500u);
        ASSERT_TRUE(c->nics[0].link_up);
        ASSERT_EQ(c->nics[0].queues, 2u);
        ASSERT_FALSE(guid_is_null(&c->nics[0].instance));
        ASSERT_FALSE(guid_is_null(&c->scsi_instance[0]));
        ASSERT_TRUE(c->ic.shutdown);
        ASSERT_FALSE(c->ic.kvp);
        ASSERT_TRUE(c->ic.fcopy);
        ASSERT_FALSE(c->ic.vss);
        ASSERT_EQ(c->restart_policy, VM_RESTART_ON_FAILURE);
        ASSERT_TRUE(c->allow_memory_over_host);
        ASSERT_EQ(c->checkpoint_type, VM_CHECKPOINT_PRODUCTION_ONLY);

        /* Round trip: serialised and parsed again gives the same config,
         * including the derived (now explicit) instance GUIDs. */
        char *json = vm_config_to_json(c);
        ASSERT_NOT_NULL(json);
        struct vm_config *c2 = malloc(sizeof *c2);
        ASSERT_OK(vm_config_parse(json, strlen(json), c2, err, sizeof err));
        ASSERT_MEMEQ(c, c2, sizeof *c);
        free(json);
        free(c);
        free(c2);
}

static void expect_error(const char *json, const char *msg) {
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        int r = vm_config_parse(json, strlen(json), c, err, sizeof err);
        if (r != -EINVAL || !strstr(err, msg))
                fprintf(stderr, "for %s\n  got %d \"%s\", want \"%s\"\n", json, r, err, msg);
        ASSERT_ERROR(r, EINVAL);
        ASSERT_TRUE(strstr(err, msg) != NULL);
        free(c);
}

/* The format comes from the configuration or the extension, never from
 * the image's content. */
TEST(config_disk_format) {
        static const char json[] = "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":["
                                   "{\"path\":\"/d.img\"},{\"path\":\"/e.VHDX\",\"lun\":1},"
                                   "{\"path\":\"/f.avhdx\",\"lun\":2},{\"path\":\"/g.bin\",\"lun\":3,\"format\":\"vhdx\"},"
                                   "{\"path\":\"/h.vhdx\",\"lun\":4,\"format\":\"raw\"},{\"path\":\"/x.vhdx/i\",\"lun\":5}]}";
        struct vm_config *c = malloc(sizeof *c);
        char err[256];
        ASSERT_OK(vm_config_parse(json, strlen(json), c, err, sizeof err));
        enum vm_disk_format want[] = { VM_DISK_RAW, VM_DISK_VHDX, VM_DISK_VHDX, VM_DISK_VHDX, VM_DISK_RAW, VM_DISK_RAW };
        for (unsigned i = 0; i < 6; i++)
                ASSERT_EQ(c->disks[i].format, want[i]);
        /* written out explicitly, so a rename of the file cannot change it */
        char *text = vm_config_to_json(c);
        ASSERT_NOT_NULL(strstr(text, "\"format\":\"vhdx\""));
        free(text);
        free(c);
}

/* DVD drives: the secondary master by default, an ISO or empty, written
 * back out; positions taken twice, an IDE disk's position, a writable DVD
 * and a shared image refused. */
TEST(config_dvd_drives) {
        static const char json[] = "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\","
                                   "\"bus\":\"ide\",\"lun\":0}],\"dvd_drives\":[{\"path\":\"/iso/debian.iso\"},"
                                   "{\"channel\":0,\"position\":1,\"read_only\":true}]}";
        struct vm_config *c = malloc(sizeof *c), *back = malloc(sizeof *back);
        char err[256];
        ASSERT_OK(vm_config_parse(json, strlen(json), c, err, sizeof err));
        ASSERT_EQ(c->n_dvds, 2u);
        ASSERT_EQ(c->dvds[0].channel, 1u);
        ASSERT_EQ(c->dvds[0].position, 0u);
        ASSERT_STREQ(c->dvds[0].path, "/iso/debian.iso");
        ASSERT_EQ(c->dvds[1].channel, 0u);
        ASSERT_EQ(c->dvds[1].position, 1u);
        ASSERT_STREQ(c->dvds[1].path, "");
        char *text = vm_config_to_json(c);
        ASSERT_OK(vm_config_parse(text, strlen(text), back, err, sizeof err));
        ASSERT_EQ(back->n_dvds, 2u);
        ASSERT_STREQ(back->dvds[0].path, "/iso/debian.iso");
        ASSERT_EQ(back->dvds[1].position, 1u);
        free(text);
        /* Without any, nothing is written. */
        static const char none[] = "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}}";
        ASSERT_OK(vm_config_parse(none, strlen(none), c, err, sizeof err));
        ASSERT_EQ(c->n_dvds, 0u);
        text = vm_config_to_json(c);
        ASSERT_NULL(strstr(text, "dvd_drives"));
        free(text);
        free(c), free(back);
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dvd_drives\":[{},{}]}",
                     "dvd_drives[1].position: duplicates dvd_drives[0]");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"bus\":\"ide\","
                     "\"lun\":2}],\"dvd_drives\":[{}]}",
                     "dvd_drives[0].position: is IDE disks[0]'s (lun 2)");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\"}],"
                     "\"dvd_drives\":[{\"path\":\"/d\"}]}",
                     "dvd_drives[0].path: /d is disks[0]");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dvd_drives\":[{\"read_only\":false}]}",
                     "dvd_drives[0].read_only: a DVD is read-only");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dvd_drives\":[{\"channel\":2}]}",
                     "dvd_drives[0].channel: must be between 0 and 1");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dvd_drives\":[{\"path\":\"x.iso\"}]}",
                     "dvd_drives[0].path: must be an absolute path");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dvd_drives\":[{},{\"position\":1},"
                     "{\"channel\":0},{\"channel\":0,\"position\":1},{}]}",
                     "dvd_drives: has 5 entries, at most 4 allowed");
}

TEST(config_errors_name_the_field) {
        expect_error("", "invalid JSON");
        expect_error("[]", "must be a JSON object ({...}), not an array");
        expect_error("\"x\"", "must be a JSON object ({...}), not a single value");
        expect_error("{\"name\":\"a\",\"name\":\"b\",\"boot\":{\"kernel\":\"/k\"}}", "name: appears twice");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\",\"kernel\":\"/j\"}}", "kernel: appears twice");
        /* The same key in two different objects is fine; a key inside a string is no key. */
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\",\"cmdline\":\"name\\\"x\"},\"nics\":"
                     "[{\"mac\":\"00:00:00:00:00:00\"}]}", "nics[0].mac: 00:00:00:00:00:00 is not a valid address");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\"},{\"path\":\"/d\","
                     "\"lun\":1}]}", "disks[1].path: /d is disks[0] already");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}} x", "trailing data");
        expect_error("{\"boot\":{\"kernel\":\"/k\"}}", "name: is required");
        expect_error("{\"name\":\"-a\",\"boot\":{\"kernel\":\"/k\"}}", "name: must be");
        expect_error("{\"name\":\"a/b\",\"boot\":{\"kernel\":\"/k\"}}", "name: must be");
        expect_error("{\"name\":\"a\"}", "boot.kernel: is required");
        expect_error("{\"name\":\"a\",\"boot\":3}", "boot: must be an object");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"k\"}}", "boot.kernel: must be an absolute path");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\",\"kind\":\"efi\"}}", "boot.kind: unknown value");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\",\"initrd\":\"/i\"}}", "boot.initrd");
        expect_error("{\"name\":\"a\",\"memory_mib\":1,\"boot\":{\"kernel\":\"/k\"}}", "memory_mib: must be between");
        expect_error("{\"name\":\"a\",\"vcpus\":\"2\",\"boot\":{\"kernel\":\"/k\"}}", "vcpus: must be an integer");
        expect_error("{\"name\":\"a\",\"vcpus\":65,\"boot\":{\"kernel\":\"/k\"}}", "vcpus: must be between");
        expect_error("{\"name\":\"a\",\"memroy_mib\":5,\"boot\":{\"kernel\":\"/k\"}}", "memroy_mib: unknown field");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"sector_size\":1024}]}",
                     "disks[0].sector_size: must be 512 or 4096");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\",\"format\":\"qcow2\"}]}",
                     "disks[0].format: unknown value \"qcow2\"");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/d\"},{\"path\":\"/e\"}]}",
                     "disks[1].lun: duplicates disks[0]");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"00:15:5d:00:00:01\","
                     "\"queues\":9}]}",
                     "queues");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"01:00:00:00:00:01\"}]}",
                     "nics[0].mac: must be a unicast address");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"00:00:00:00:00:1\"}]}",
                     "nics[0].mac: must look like");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"nics\":[{\"mac\":\"00:00:00:00:00:01\",\"tap\":\"a/b\"}]}",
                     "nics[0].tap: is not a valid interface name");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"restart_policy\":\"sometimes\"}",
                     "restart_policy: unknown value");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"checkpoint_type\":\"app\"}",
                     "checkpoint_type: unknown value");
        expect_error("{\"name\":\"a\",\"id\":\"nope\",\"boot\":{\"kernel\":\"/k\"}}", "id: is not a GUID");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\",\"cmdline\":7}}", "boot.cmdline: must be a string");
}

/* A firmware boot: the default image and Hyper-V's order, a chosen order
 * kept through a round trip, and the kernel's fields refused. */
TEST(config_firmware_boot) {
        struct vm_config *c = malloc(sizeof *c), *c2 = malloc(sizeof *c2);
        char err[256];
        static const char plain[] = "{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\"},"
                                    "\"disks\":[{\"path\":\"/d.img\",\"bus\":\"ide\"}]}";
        ASSERT_OK(vm_config_parse(plain, strlen(plain), c, err, sizeof err));
        ASSERT_EQ(c->boot_kind, VM_BOOT_FIRMWARE);
        ASSERT_STREQ(c->firmware, VM_FIRMWARE_DEFAULT);
        ASSERT_EQ(c->n_boot_order, 2u);
        ASSERT_EQ(c->boot_order[0], VM_BOOT_DEVICE_DVD);
        ASSERT_EQ(c->boot_order[1], VM_BOOT_DEVICE_DISK);
        ASSERT_STREQ(c->kernel, "");
        static const char chosen[] = "{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"firmware\":\"/fw/bios.bin\","
                                     "\"order\":[\"disk\"]}}";
        ASSERT_OK(vm_config_parse(chosen, strlen(chosen), c, err, sizeof err));
        ASSERT_STREQ(c->firmware, "/fw/bios.bin");
        ASSERT_EQ(c->n_boot_order, 1u);
        ASSERT_EQ(c->boot_order[0], VM_BOOT_DEVICE_DISK);
        char *json = vm_config_to_json(c);
        ASSERT_NOT_NULL(json);
        ASSERT_NULL(strstr(json, "\"kernel\""));
        ASSERT_OK(vm_config_parse(json, strlen(json), c2, err, sizeof err));
        ASSERT_MEMEQ(c, c2, sizeof *c);
        free(json);
        expect_error("{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"kernel\":\"/k\"}}",
                     "boot.kernel: is only for kinds");
        expect_error("{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"cmdline\":\"x\"}}", "boot.cmdline");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\",\"firmware\":\"/f\"}}",
                     "boot.firmware: is only for kind \"firmware\"");
        expect_error("{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"firmware\":\"f\"}}",
                     "boot.firmware: must be an absolute path");
        expect_error("{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"order\":[]}}", "boot.order: must be a list");
        expect_error("{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"order\":[\"net\"]}}",
                     "boot.order: entry 0: must be");
        expect_error("{\"name\":\"a\",\"boot\":{\"kind\":\"firmware\",\"order\":[\"disk\",\"disk\"]}}",
                     "\"disk\" is listed twice");
        free(c);
        free(c2);
}

TEST(config_hvsock) {
        const char *json = "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"enabled\":true,"
                           "\"max_connections\":9,\"services\":[{\"port\":5000,\"path\":\"/run/agent.sock\"},"
                           "{\"port\":2147483647,\"path\":\"/run/b\"}]}}";
        struct vm_config c;
        char err[256];
        ASSERT_OK(vm_config_parse(json, strlen(json), &c, err, sizeof err));
        ASSERT_TRUE(c.hvsock.enabled);
        ASSERT_EQ(c.hvsock.max_connections, 9u);
        ASSERT_EQ(c.hvsock.n_services, 2u);
        ASSERT_EQ(c.hvsock.services[1].port, 0x7fffffffu);
        ASSERT_STREQ(c.hvsock.services[0].path, "/run/agent.sock");
        char *back = vm_config_to_json(&c);
        struct vm_config c2;
        ASSERT_OK(vm_config_parse(back, strlen(back), &c2, err, sizeof err));
        free(back);
        ASSERT_EQ(memcmp(&c.hvsock, &c2.hvsock, sizeof c.hvsock), 0);
        /* Off by default, 64 connections. */
        ASSERT_OK(vm_config_parse("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}}", 36, &c, err, sizeof err));
        ASSERT_FALSE(c.hvsock.enabled);
        ASSERT_EQ(c.hvsock.max_connections, 64u);
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"services\":[{\"port\":2147483648,"
                     "\"path\":\"/s\"}]}}", "hvsock.services[0].port: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"services\":[{\"path\":\"/s\"}]}}",
                     "hvsock.services[0].port: is required");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"services\":[{\"port\":1,"
                     "\"path\":\"s\"}]}}", "hvsock.services[0].path: must be an absolute path");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"services\":[{\"port\":1,"
                     "\"path\":\"/s\"},{\"port\":1,\"path\":\"/t\"}]}}", "hvsock.services[1].port: duplicates services[0]");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"max_connections\":0}}",
                     "hvsock.max_connections: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"hvsock\":{\"ports\":[]}}",
                     "hvsock.ports: unknown field");
}

TEST(config_dynamic_memory) {
        const char *json = "{\"name\":\"a\",\"memory_mib\":512,\"boot\":{\"kernel\":\"/k\"},"
                           "\"dynamic_memory\":{\"enabled\":true,\"minimum_mib\":256,\"maximum_mib\":2100,"
                           "\"buffer_percent\":30,\"weight\":100}}";
        struct vm_config c;
        char err[256];
        ASSERT_OK(vm_config_parse(json, strlen(json), &c, err, sizeof err));
        ASSERT_TRUE(c.dm.enabled);
        ASSERT_EQ(vm_dm_minimum_mib(&c), 256u);
        ASSERT_EQ(vm_dm_maximum_mib(&c), 2100u);
        ASSERT_EQ(c.dm.buffer_percent, 30u);
        ASSERT_EQ(c.dm.weight, 100u);
        /* the hot-add window: whole 128 MiB blocks of maximum - startup */
        ASSERT_EQ(vm_dm_hot_add_mib(&c), 1536u);
        char *back = vm_config_to_json(&c);
        struct vm_config c2;
        ASSERT_OK(vm_config_parse(back, strlen(back), &c2, err, sizeof err));
        free(back);
        ASSERT_EQ(memcmp(&c.dm, &c2.dm, sizeof c.dm), 0);
        /* Off by default: Hyper-V's buffer and weight, minimum and maximum
         * follow the startup memory (so an edit of memory_mib keeps them
         * in order), no window. */
        ASSERT_OK(vm_config_parse("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}}", 36, &c, err, sizeof err));
        ASSERT_FALSE(c.dm.enabled);
        ASSERT_EQ(c.dm.buffer_percent, 20u);
        ASSERT_EQ(c.dm.weight, 5000u);
        ASSERT_EQ(vm_dm_minimum_mib(&c), c.memory_mib);
        ASSERT_EQ(vm_dm_maximum_mib(&c), c.memory_mib);
        ASSERT_EQ(vm_dm_hot_add_mib(&c), 0u);
        back = vm_config_to_json(&c);
        ASSERT_NULL(strstr(back, "dynamic_memory"));
        free(back);
        expect_error("{\"name\":\"a\",\"memory_mib\":512,\"boot\":{\"kernel\":\"/k\"},"
                     "\"dynamic_memory\":{\"minimum_mib\":1024}}",
                     "dynamic_memory.minimum_mib: 1024 is above the startup memory");
        expect_error("{\"name\":\"a\",\"memory_mib\":512,\"boot\":{\"kernel\":\"/k\"},"
                     "\"dynamic_memory\":{\"maximum_mib\":256}}",
                     "dynamic_memory.maximum_mib: 256 is below the startup memory");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dynamic_memory\":{\"buffer_percent\":1}}",
                     "dynamic_memory.buffer_percent: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dynamic_memory\":{\"weight\":10001}}",
                     "dynamic_memory.weight: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dynamic_memory\":{\"startup\":1}}",
                     "dynamic_memory.startup: unknown field");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"dynamic_memory\":true}",
                     "dynamic_memory");
}

TEST(config_display) {
        const char *json = "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},"
                           "\"display\":{\"enabled\":true,\"width\":1920,\"height\":1080,"
                           "\"vnc_port\":5901,\"web_port\":6081,\"keymap\":\"de:nodeadkeys\","
                           "\"socket\":\"/run/x/display\"}}";
        struct vm_config c;
        char err[256];
        ASSERT_OK(vm_config_parse(json, strlen(json), &c, err, sizeof err));
        ASSERT_TRUE(c.display.enabled);
        ASSERT_EQ(c.display.width, 1920u);
        ASSERT_EQ(c.display.height, 1080u);
        ASSERT_EQ(c.display.vnc_port, 5901u);
        ASSERT_EQ(c.display.web_port, 6081u);
        ASSERT_STREQ(c.display.socket, "/run/x/display");
        ASSERT_STREQ(c.display.keymap, "de:nodeadkeys");
        char *back = vm_config_to_json(&c);
        struct vm_config c2;
        ASSERT_OK(vm_config_parse(back, strlen(back), &c2, err, sizeof err));
        free(back);
        ASSERT_EQ(memcmp(&c.display, &c2.display, sizeof c.display), 0);
        /* Off by default, 1024 x 768, and then not written back. */
        ASSERT_OK(vm_config_parse("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}}", 36, &c, err, sizeof err));
        ASSERT_FALSE(c.display.enabled);
        ASSERT_EQ(c.display.width, 1024u);
        ASSERT_EQ(c.display.height, 768u);
        back = vm_config_to_json(&c);
        ASSERT_NULL(strstr(back, "display"));
        free(back);
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":{\"width\":4096}}",
                     "display.width: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":{\"height\":100}}",
                     "display.height: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":{\"vnc_port\":70000}}",
                     "display.vnc_port: must be between");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},"
                     "\"display\":{\"vnc_port\":5900,\"web_port\":5900}}",
                     "display.web_port: is the same as vnc_port");
        static const char *const bad_keymaps[] = { "../de", "De", "de:", ":x", "de:a b", "de;x", "de:x:y" };
        for (size_t i = 0; i < ARRAY_SIZE(bad_keymaps); i++) {
                char j[160];
                snprintf(j, sizeof j, "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":{\"keymap\":\"%s\"}}",
                         bad_keymaps[i]);
                expect_error(j, "display.keymap: \"");
                ASSERT_FALSE(vm_keymap_is_valid(bad_keymaps[i]));
        }
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":{\"keymap\":"
                     "\"abcdefghijklmnopqrstuvwxyzabcdefgh:abcdefghijklmnopqrstuvwxyzabcdefgh\"}}",
                     "display.keymap: is longer than");
        ASSERT_TRUE(vm_keymap_is_valid("us"));
        ASSERT_TRUE(vm_keymap_is_valid("de:nodeadkeys"));
        ASSERT_TRUE(vm_keymap_is_valid("brai:right_hand"));
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":{\"vga\":1}}",
                     "display.vga: unknown field");
        expect_error("{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"display\":[]}", "display");
}

TEST(config_limits) {
        char *big = malloc(VM_CONFIG_MAX_BYTES + 2);
        memset(big, ' ', VM_CONFIG_MAX_BYTES + 1);
        big[VM_CONFIG_MAX_BYTES + 1] = 0;
        expect_error(big, "larger than");
        free(big);
        /* 65 disks */
        char *s = malloc(8192), *o = s;
        o += sprintf(o, "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"},\"disks\":[");
        for (int i = 0; i < 65; i++)
                o += sprintf(o, "%s{\"path\":\"/d\",\"lun\":%d}", i ? "," : "", i % 64);
        sprintf(o, "]}");
        expect_error(s, "disks: has 65 entries");
        free(s);
}

TEST(mac_helpers) {
        uint8_t mac[6];
        char buf[18];
        ASSERT_OK(vm_mac_parse("00:15:5D:0a:ff:01", mac));
        vm_mac_format(mac, buf);
        ASSERT_STREQ(buf, "00:15:5d:0a:ff:01");
        ASSERT_ERROR(vm_mac_parse("00:15:5d:0a:ff:01:", mac), EINVAL);
        ASSERT_ERROR(vm_mac_parse("00:15:5d:0a:ff: 1", mac), EINVAL);
        ASSERT_ERROR(vm_mac_parse("00-15-5d-0a-ff-01", mac), EINVAL);
}

TEST(ratelimit) {
        struct ratelimit rl = RATELIMIT_INIT(60u * 1000000u, 3);
        unsigned sup;
        ASSERT_TRUE(ratelimit_below(&rl, &sup));
        ASSERT_TRUE(ratelimit_below(&rl, &sup));
        ASSERT_TRUE(ratelimit_below(&rl, &sup));
        ASSERT_FALSE(ratelimit_below(&rl, &sup));
        ASSERT_FALSE(ratelimit_below(&rl, &sup));
        rl.begin_us -= 61u * 1000000u; /* the interval passes */
        ASSERT_TRUE(ratelimit_below(&rl, &sup));
        ASSERT_EQ(sup, 2u);
}

TEST(log_errno_return) {
        log_set_max_level(LOG_LEVEL_ERR - 1); /* silence */
        ASSERT_EQ(log_error_errno(EIO, "x: %m"), -EIO);
        ASSERT_EQ(log_error_errno(-ENOENT, "x"), -ENOENT);
        log_set_max_level(LOG_LEVEL_INFO);
}

TEST(proto_roundtrip_with_fds) {
        int sv[2];
        ASSERT_OK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv));
        json_object *m = json_object_new_object();
        json_object_object_add(m, "op", json_object_new_string("pause"));
        json_object_object_add(m, "id", json_object_new_int(7));
        int pipefd[2];
        ASSERT_OK(pipe(pipefd));
        ASSERT_OK(proto_send(sv[0], m, pipefd, 2));
        json_object_put(m);
        close(pipefd[0]);
        close(pipefd[1]);

        json_object *got = NULL;
        int fds[4];
        size_t n = 0;
        ASSERT_OK(proto_recv(sv[1], &got, fds, 4, &n));
        ASSERT_EQ(n, (size_t)2);
        json_object *op;
        ASSERT_TRUE(json_object_object_get_ex(got, "op", &op));
        ASSERT_STREQ(json_object_get_string(op), "pause");
        ASSERT_EQ(write(fds[1], "x", 1), 1); /* the fds work */
        char c;
        ASSERT_EQ(read(fds[0], &c, 1), 1);
        close(fds[0]);
        close(fds[1]);
        json_object_put(got);

        /* Not JSON, and not an object: -EBADMSG, no crash. */
        ASSERT_EQ(send(sv[0], "{bad", 4, 0), 4);
        ASSERT_ERROR(proto_recv(sv[1], &got, fds, 4, &n), EBADMSG);
        ASSERT_EQ(send(sv[0], "[1]", 3, 0), 3);
        ASSERT_ERROR(proto_recv(sv[1], &got, fds, 4, &n), EBADMSG);
        close(sv[0]);
        ASSERT_ERROR(proto_recv(sv[1], &got, fds, 4, &n), ECONNRESET);
        close(sv[1]);
}

/* The protocol's table (common/proto.h): every op found by its name, the
 * names one each, an event object carries its name. */
TEST(proto_table) {
        ASSERT_EQ(proto_op_lookup(NULL), PROTO_OP_UNKNOWN);
        ASSERT_EQ(proto_op_lookup("no-such-op"), PROTO_OP_UNKNOWN);
        ASSERT_EQ(proto_op_lookup("save"), PROTO_OP_SAVE);
        ASSERT_EQ(proto_ops[PROTO_OP_SAVE].fds, PROTO_FDS_ONE);
        for (size_t i = PROTO_OP_UNKNOWN + 1; i < PROTO_OP_N; i++) {
                ASSERT_NOT_NULL(proto_ops[i].name);
                ASSERT_EQ((size_t)proto_op_lookup(proto_ops[i].name), i);
        }
        for (size_t i = 0; i < PROTO_EV_N; i++) {
                for (size_t j = i + 1; j < PROTO_EV_N; j++)
                        ASSERT_NE(strcmp(proto_events[i].name, proto_events[j].name), 0);
                struct json_object *ev = proto_event_new((enum proto_event)i), *v;
                ASSERT_NOT_NULL(ev);
                ASSERT_TRUE(json_object_object_get_ex(ev, "event", &v));
                ASSERT_STREQ(json_object_get_string(v), proto_events[i].name);
                json_object_put(ev);
        }
}

TEST(write_file_atomic) {
        char dir[] = "/tmp/vmtest.XXXXXX";
        ASSERT_NOT_NULL(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof path, "%s/f.json", dir);
        ASSERT_OK(write_file_atomic(path, "hello", 5, 0600));
        char *buf;
        size_t len;
        ASSERT_OK(read_file(path, 100, &buf, &len));
        ASSERT_EQ(len, (size_t)5);
        ASSERT_STREQ(buf, "hello");
        free(buf);
        ASSERT_ERROR(read_file(path, 4, &buf, &len), EFBIG);
        struct stat st;
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 0777, 0600u);
        unlink(path);
        rmdir(dir);
}

struct seen {
        uint64_t from[8], to[8];
        unsigned n;
};

static int see(void *opaque, uint64_t from, uint64_t to) {
        struct seen *s = opaque;
        if (s->n == 8)
                return -E2BIG;
        s->from[s->n] = from, s->to[s->n] = to, s->n++;
        return s->n == 3 ? 7 : 0; /* the third extent stops the walk */
}

/* A memfd's data extents in order, the last clipped to the length asked
 * for, none read; fn's non-zero return stops the walk; a range zeroed by
 * punching takes no memory. */
TEST(fd_data_extents_and_zero_ranges) {
        int fd = memfd_create("test-extents", MFD_CLOEXEC);
        ASSERT_GE(fd, 0);
        ASSERT_OK(ftruncate(fd, 64 * 4096));
        uint8_t *map = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ASSERT_TRUE(map != MAP_FAILED);
        map[4096] = map[2 * 4096] = 1;  /* pages 1-2 */
        map[10 * 4096 + 5] = 2;         /* page 10 */
        map[20 * 4096] = map[21 * 4096] = 3; /* pages 20-21 */
        struct seen s = { 0 };
        ASSERT_EQ(fd_for_each_data(fd, 15 * 4096, see, &s), 0);
        ASSERT_EQ(s.n, 2u);
        ASSERT_EQ(s.from[0], 4096u);
        ASSERT_EQ(s.to[0], 3 * 4096u);
        ASSERT_EQ(s.from[1], 10 * 4096u);
        ASSERT_EQ(s.to[1], 11 * 4096u);
        s = (struct seen){ 0 };
        ASSERT_EQ(fd_for_each_data(fd, 21 * 4096 + 100, see, &s), 7); /* stopped at the third */
        ASSERT_EQ(s.from[2], 20 * 4096u);
        ASSERT_EQ(s.to[2], 21 * 4096u + 100); /* clipped */
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        ASSERT_EQ((uint64_t)st.st_blocks * 512u, 5 * 4096u); /* the walk read no hole in */
        fd_zero_range(fd, map, 0, 16 * 4096);
        ASSERT_OK(fstat(fd, &st));
        ASSERT_EQ((uint64_t)st.st_blocks * 512u, 2 * 4096u); /* punched, not written */
        fd_zero_range(-1, map, 20 * 4096, 4096);               /* no fd: written */
        ASSERT_EQ(map[20 * 4096], 0);
        ASSERT_EQ(map[21 * 4096], 3);
        munmap(map, 64 * 4096);
        close(fd);
}

TEST_MAIN();
