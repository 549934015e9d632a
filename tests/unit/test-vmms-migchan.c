// SPDX-License-Identifier: MIT
/* The vmms migration channel's pure parts (vmms/migchan.h): frames, the
 * request and answer bodies, destination addresses, Migrate()'s options. */
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "vmms/core/daemon.h"
#include "vmms/migchan.h"
#include "vmms/migration/migration.h"

#define ID1 "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

TEST(frame_roundtrip_and_refusals) {
        uint8_t f[VMMS_MIGCHAN_FRAME_SIZE];
        uint32_t len = 0;
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_REQUEST, 1234);
        ASSERT_OK(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len));
        ASSERT_EQ(len, 1234u);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_ANSWER, &len), EPROTO);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f - 1, VMMS_MIGCHAN_REQUEST, &len), EBADMSG);
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_REQUEST, VMMS_MIGCHAN_BODY_MAX + 1);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len), EMSGSIZE);
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_ANSWER, 4096); /* answers are short */
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_ANSWER, &len), EMSGSIZE);
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_REQUEST, 0);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len), EMSGSIZE);
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_REQUEST, 10);
        f[4] = 2;
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len), EPROTONOSUPPORT);
        f[4] = 1, f[0] = 'X';
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len), EBADMSG);
        f[0] = 'V', f[15] = 1;
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_REQUEST, &len), EBADMSG);
}

TEST(request_roundtrip) {
        const char *cfg = "{\"name\":\"web1\",\"id\":\"" ID1 "\",\"memory_mib\":256,\"boot\":{\"kernel\":\"/k\"}}";
        struct vm_config *c = malloc(sizeof *c);
        struct vmms_migchan_request *q = malloc(sizeof *q);
        char err[256];
        ASSERT_NOT_NULL(c);
        ASSERT_NOT_NULL(q);
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, err, sizeof err));
        char *body = vmms_migchan_request_build(c, 1000, "alice", VMMS_MIGRATE_LIVE);
        ASSERT_NOT_NULL(body);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_STREQ(q->config.name, "web1");
        ASSERT_EQ(q->config.memory_mib, 256u);
        ASSERT_TRUE(guid_equal(&q->config.id, &c->id));
        ASSERT_EQ(q->owner, 1000u);
        ASSERT_STREQ(q->owner_name, "alice");
        free(body);
        /* No name: none on the wire, none parsed; a name that is none is not sent. */
        body = vmms_migchan_request_build(c, 1000, NULL, VMMS_MIGRATE_LIVE);
        ASSERT_NOT_NULL(body);
        ASSERT_NULL(strstr(body, "owner_name"));
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_STREQ(q->owner_name, "");
        free(body);
        ASSERT_NULL(vmms_migchan_request_build(c, 1000, "a/b", VMMS_MIGRATE_LIVE));
        free(c);
        free(q);
}

/* Shared-nothing: one geometry per disk, none for a read-only one. */
TEST(disks_request_roundtrip_and_refusals) {
        const char *cfg = "{\"name\":\"web1\",\"id\":\"" ID1 "\",\"memory_mib\":256,\"boot\":{\"kernel\":\"/k\"},"
                          "\"disks\":[{\"path\":\"/d/a.img\"},{\"path\":\"/d/b.iso\",\"read_only\":true,\"lun\":1}]}";
        struct vm_config *c = malloc(sizeof *c);
        struct vmms_migchan_request *q = malloc(sizeof *q);
        char err[256];
        ASSERT_NOT_NULL(c);
        ASSERT_NOT_NULL(q);
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, err, sizeof err));
        struct vmms_migchan_disk disks[2] = { { .size = 1 << 30, .sector = 4096 }, { .size = 0, .sector = 512 } };
        char *body = vmms_migchan_disks_request_build(c, 0, NULL, disks);
        ASSERT_NOT_NULL(body);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_TRUE(q->copy_disks);
        ASSERT_EQ(q->disks[0].size, 1u << 30);
        ASSERT_EQ(q->disks[0].sector, 4096u);
        ASSERT_EQ(q->disks[1].size, 0u);
        free(body);
        body = vmms_migchan_request_build(c, 0, NULL, VMMS_MIGRATE_LIVE);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_FALSE(q->copy_disks);
        free(body);
        static const struct vmms_migchan_disk bad[][2] = {
                { { 0, 512 }, { 0, 512 } },              /* a writable disk without a size */
                { { 1 << 20, 512 }, { 1 << 20, 512 } },  /* a read-only disk with one */
                { { 1000, 512 }, { 0, 512 } },           /* not in sectors */
                { { 1 << 20, 1024 }, { 0, 512 } },       /* no such sector */
                { { (64ull << 40) + 512, 512 }, { 0, 512 } },
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                body = vmms_migchan_disks_request_build(c, 0, NULL, bad[i]);
                ASSERT_NOT_NULL(body);
                ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err), EINVAL);
                ASSERT_TRUE(strstr(err, "disks[") != NULL);
                free(body);
        }
        /* one entry per disk, and only for a live move */
        body = vmms_migchan_disks_request_build(c, 0, NULL, disks);
        char *cut = strstr(body, ",{\"size\":0");
        ASSERT_NOT_NULL(cut);
        memmove(cut, strchr(cut + 1, '}') + 1, strlen(strchr(cut + 1, '}') + 1) + 1);
        ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "disks: must hold one entry per disk of the configuration");
        free(body);
        free(c);
        free(q);
}

static int parse(const char *body, char *err, size_t errlen) {
        struct vmms_migchan_request *q = malloc(sizeof *q);
        int r = q ? vmms_migchan_request_parse(body, strlen(body), q, err, errlen) : -ENOMEM;
        free(q);
        return r;
}

TEST(request_refusals_name_the_field) {
        char err[256];
        ASSERT_ERROR(parse("[]", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "not a JSON object");
        ASSERT_ERROR(parse("{\"config\":\"{}\",\"owner\":0,\"mode\":\"live\",\"x\":1}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "x: unknown field");
        ASSERT_ERROR(parse("{\"config\":\"{}\",\"owner\":-1,\"mode\":\"live\"}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "owner: must be a uid");
        static const char *const bad_names[] = { "\"\"", "\"-x\"", "\"a b\"", "\"../x\"", "7",
                                                 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" /* 33 */ };
        for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
                char body[256];
                snprintf(body, sizeof body, "{\"config\":\"{}\",\"owner\":0,\"owner_name\":%s,\"mode\":\"live\"}",
                         bad_names[i]);
                ASSERT_ERROR(parse(body, err, sizeof err), EINVAL);
                ASSERT_STREQ(err, "owner_name: not a user name");
        }
        ASSERT_TRUE(vmms_migchan_user_name_valid("svc.backup-01_x"));
        ASSERT_ERROR(parse("{\"config\":\"{}\",\"owner\":0,\"mode\":\"quick\"}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "mode: must be \"live\", \"saved\" or \"check\""); /* quick is Migrate()'s word, not the wire's */
        ASSERT_ERROR(parse("{\"config\":{},\"owner\":0,\"mode\":\"live\"}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "config: must be the configuration as a string");
        /* A configuration without an id cannot be the same VM. */
        ASSERT_ERROR(parse("{\"config\":\"{\\\"name\\\":\\\"a\\\",\\\"boot\\\":{\\\"kernel\\\":\\\"/k\\\"}}\","
                           "\"owner\":0,\"mode\":\"live\"}",
                           err, sizeof err),
                     EINVAL);
        ASSERT_STREQ(err, "config: id: is required");
        ASSERT_ERROR(parse("{\"config\":\"{\\\"name\\\":\\\"a\\\"}\",\"owner\":0,\"mode\":\"live\"}", err, sizeof err),
                     EINVAL);
        ASSERT_TRUE(strncmp(err, "config: ", 8) == 0);
        ASSERT_ERROR(parse("{\"config\":\"{}\",\"owner\":0,\"mode\":\"live\"} trailing", err, sizeof err), EINVAL);
}

#define SAVED_CFG "\"config\":\"{\\\"name\\\":\\\"a\\\",\\\"id\\\":\\\"" ID1 "\\\",\\\"memory_mib\\\":64,\\\"boot\\\":{\\\"kernel\\\":\\\"/k\\\"}}\",\"owner\":0"

TEST(saved_request) {
        const char *cfg = "{\"name\":\"web1\",\"id\":\"" ID1 "\",\"memory_mib\":256,\"boot\":{\"kernel\":\"/k\"}}";
        struct vm_config *c = malloc(sizeof *c);
        struct vmms_migchan_request *q = malloc(sizeof *q);
        char err[256];
        ASSERT_NOT_NULL(c);
        ASSERT_NOT_NULL(q);
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, err, sizeof err));
        char *body = vmms_migchan_saved_request_build(c, 1000, NULL, 123456789, true, 0, NULL);
        ASSERT_NOT_NULL(body);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_EQ(q->mode, VMMS_MIGRATE_SAVED);
        ASSERT_EQ(q->size, 123456789u);
        ASSERT_TRUE(q->start);
        ASSERT_STREQ(q->config.name, "web1");
        free(body);
        /* The largest state a 256 MiB VM can have: its RAM + 256 MiB. */
        body = vmms_migchan_saved_request_build(c, 0, NULL, (512ull << 20), false, 0, NULL);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_FALSE(q->start);
        free(body);
        body = vmms_migchan_saved_request_build(c, 0, NULL, (512ull << 20) + 1, false, 0, NULL);
        ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "size: 536870913 bytes is more than the VM's RAM + 256 MiB");
        free(body);
        /* A live request carries neither. */
        body = vmms_migchan_request_build(c, 0, NULL, VMMS_MIGRATE_LIVE);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_EQ(q->mode, VMMS_MIGRATE_LIVE);
        ASSERT_NULL(strstr(body, "size"));
        free(body);
        free(c);
        free(q);
}

TEST(saved_request_refusals) {
        char err[256];
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"start\":true}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "size: must be the state file's size in bytes");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":0,\"start\":true}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "size: must be the state file's size in bytes");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":-5,\"start\":true}", err, sizeof err), EINVAL);
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":1.5,\"start\":true}", err, sizeof err), EINVAL);
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":\"9\",\"start\":true}", err, sizeof err), EINVAL);
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":4096}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "start: must be true or false");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":4096,\"start\":1}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "start: must be true or false");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":9223372036854775807,\"start\":true}", err,
                           sizeof err),
                     EINVAL);
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"live\",\"size\":4096}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "size, start: only with mode \"saved\"");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"live\",\"start\":false}", err, sizeof err), EINVAL);
        ASSERT_OK(parse("{" SAVED_CFG ",\"mode\":\"saved\",\"size\":4096,\"start\":false}", err, sizeof err));
}

/* A quick migration's question before its save: the configuration and the
 * owner, nothing of a state file or of disks. */
TEST(check_request) {
        const char *cfg = "{\"name\":\"web1\",\"id\":\"" ID1 "\",\"memory_mib\":256,\"boot\":{\"kernel\":\"/k\"}}";
        struct vm_config *c = malloc(sizeof *c);
        struct vmms_migchan_request *q = malloc(sizeof *q);
        char err[256];
        ASSERT_NOT_NULL(c);
        ASSERT_NOT_NULL(q);
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, err, sizeof err));
        char *body = vmms_migchan_check_request_build(c, 1000, "alice");
        ASSERT_NOT_NULL(body);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, err, sizeof err));
        ASSERT_EQ(q->mode, VMMS_MIGRATE_CHECK);
        ASSERT_STREQ(q->owner_name, "alice");
        ASSERT_EQ(q->size, 0u);
        ASSERT_NULL(strstr(body, "size"));
        free(body);
        free(c);
        free(q);
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"check\",\"size\":4096,\"start\":true}", err, sizeof err),
                     EINVAL);
        ASSERT_STREQ(err, "size, start: only with mode \"saved\"");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"check\",\"disks\":[]}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "disks: only with mode \"live\"");
        ASSERT_ERROR(parse("{" SAVED_CFG ",\"mode\":\"quick\"}", err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "mode: must be \"live\", \"saved\" or \"check\"");
}

static int step(const char *body, enum vmms_migchan_step *st, uint32_t *crc, char *why, size_t whylen) {
        return vmms_migchan_step_parse(body, strlen(body), st, crc, why, whylen);
}

TEST(steps) {
        enum vmms_migchan_step st = 0;
        uint32_t crc = 1;
        char why[64];
        for (int i = VMMS_STEP_SENT; i <= VMMS_STEP_SAVED; i++) {
                char *b = vmms_migchan_step_build((enum vmms_migchan_step)i, 0xdeadbeef, "full disk");
                ASSERT_NOT_NULL(b);
                ASSERT_OK(step(b, &st, &crc, why, sizeof why));
                ASSERT_EQ((int)st, i);
                ASSERT_EQ(crc, i == VMMS_STEP_SENT ? 0xdeadbeefu : 0u);
                ASSERT_STREQ(why, i == VMMS_STEP_REFUSED || i == VMMS_STEP_SAVED ? "full disk" : "");
                free(b);
        }
        ASSERT_STREQ(vmms_migchan_step_name(VMMS_STEP_RELEASED), "released");
        ASSERT_STREQ(vmms_migchan_step_name(99), "unknown");
        ASSERT_NULL(vmms_migchan_step_build(99, 0, NULL));
        char *b = vmms_migchan_step_build(VMMS_STEP_SAVED, 0, NULL);
        ASSERT_OK(step(b, &st, &crc, why, sizeof why));
        ASSERT_STREQ(why, "no reason given");
        free(b);
        ASSERT_OK(step("{\"step\":\"refused\",\"error\":\"x\\u001b[2J\"}", &st, &crc, why, sizeof why));
        ASSERT_STREQ(why, "x?[2J"); /* a peer's words: printable only */
        const char *bad[] = {
                "{}",
                "[]",
                "{\"step\":\"commit\"}",
                "{\"step\":1}",
                "{\"step\":\"sent\"}",                          /* no CRC */
                "{\"step\":\"sent\",\"crc32c\":-1}",
                "{\"step\":\"sent\",\"crc32c\":4294967296}",
                "{\"step\":\"sent\",\"crc32c\":\"1\"}",
                "{\"step\":\"stored\",\"crc32c\":1}",            /* a CRC only with sent */
                "{\"step\":\"stored\",\"error\":\"x\"}",         /* a reason only with refused, saved */
                "{\"step\":\"refused\"}",
                "{\"step\":\"saved\",\"error\":5}",
                "{\"step\":\"released\",\"x\":1}",
                "{\"step\":\"released\"} x",
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                ASSERT_ERROR(step(bad[i], &st, &crc, why, sizeof why), EINVAL);
        /* Steps travel in their own frame kind, as short as answers. */
        uint8_t f[VMMS_MIGCHAN_FRAME_SIZE];
        uint32_t len;
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_STEP, 100);
        ASSERT_OK(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_STEP, &len));
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_ANSWER, &len), EPROTO);
        vmms_migchan_frame_build(f, VMMS_MIGCHAN_STEP, 4096);
        ASSERT_ERROR(vmms_migchan_frame_parse(f, sizeof f, VMMS_MIGCHAN_STEP, &len), EMSGSIZE);
}

TEST(answer) {
        bool ok = false;
        char why[64];
        char *a = vmms_migchan_answer_build(NULL);
        ASSERT_OK(vmms_migchan_answer_parse(a, strlen(a), &ok, why, sizeof why));
        ASSERT_TRUE(ok);
        free(a);
        a = vmms_migchan_answer_build("a VM named 'x' exists here");
        ASSERT_OK(vmms_migchan_answer_parse(a, strlen(a), &ok, why, sizeof why));
        ASSERT_FALSE(ok);
        ASSERT_STREQ(why, "a VM named 'x' exists here");
        free(a);
        const char *ctl = "{\"ok\":false,\"error\":\"bad\\u001b[31mred\"}";
        ASSERT_OK(vmms_migchan_answer_parse(ctl, strlen(ctl), &ok, why, sizeof why));
        ASSERT_STREQ(why, "bad?[31mred"); /* no terminal escapes from a peer */
        const char *none = "{\"ok\":false}";
        ASSERT_OK(vmms_migchan_answer_parse(none, strlen(none), &ok, why, sizeof why));
        ASSERT_STREQ(why, "refused without a reason");
        const char *both = "{\"ok\":true,\"error\":\"x\"}";
        ASSERT_ERROR(vmms_migchan_answer_parse(both, strlen(both), &ok, why, sizeof why), EINVAL);
        ASSERT_ERROR(vmms_migchan_answer_parse("{}", 2, &ok, why, sizeof why), EINVAL);
}

/* The operator's Dynamic Memory target goes with a live migration, in
 * the VM's range only, and only for a VM that has Dynamic Memory. */
TEST(memory_target_in_live_and_saved_requests) {
        const char *cfg = "{\"name\":\"dm\",\"id\":\"" ID1 "\",\"memory_mib\":512,\"boot\":{\"kernel\":\"/k\"},"
                          "\"dynamic_memory\":{\"enabled\":true,\"minimum_mib\":256,\"maximum_mib\":2048}}";
        const char *plain = "{\"name\":\"p\",\"id\":\"" ID1 "\",\"memory_mib\":512,\"boot\":{\"kernel\":\"/k\"}}";
        struct vm_config *c = calloc(1, sizeof *c), *p = calloc(1, sizeof *p);
        struct vmms_migchan_request *q = calloc(1, sizeof *q);
        char why[256];
        ASSERT_TRUE(c && p && q);
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, why, sizeof why));
        ASSERT_OK(vm_config_parse(plain, strlen(plain), p, why, sizeof why));
        char *body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 384ull << 20, NULL);
        ASSERT_NOT_NULL(body);
        ASSERT_NOT_NULL(strstr(body, "\"memory_target\":402653184"));
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_EQ(q->memory_target, 384ull << 20);
        free(body);
        /* None: not on the wire, 0 parsed. */
        body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, NULL);
        ASSERT_NULL(strstr(body, "memory_target"));
        q->memory_target = 1;
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_EQ(q->memory_target, 0u);
        free(body);
        /* Outside 256..2048 MiB, not a number: refused with the range. */
        static const uint64_t bad[] = { 255ull << 20, (2048ull << 20) + 1, 1 };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, bad[i], NULL);
                ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why), EINVAL);
                ASSERT_STREQ(why, "memory_target: must be bytes in the VM's range, 256..2048 MiB");
                free(body);
        }
        body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 300ull << 20, NULL);
        char b[8192], *at = strstr(body, "314572800");
        ASSERT_NOT_NULL(at);
        snprintf(b, sizeof b, "%.*s\"300M\"%s", (int)(at - body), body, at + 9);
        ASSERT_ERROR(vmms_migchan_request_parse(b, strlen(b), q, why, sizeof why), EINVAL);
        free(body);
        /* A VM without Dynamic Memory has no target. */
        body = vmms_migchan_live_request_build(p, 0, NULL, NULL, NULL, 512ull << 20, NULL);
        ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why), EINVAL);
        ASSERT_STREQ(why, "memory_target: only in a live or saved request for a VM with dynamic memory");
        free(body);
        /* A Saved VM's move carries it too; a check has none. */
        body = vmms_migchan_saved_request_build(c, 0, NULL, 1 << 20, true, 384ull << 20, NULL);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_EQ(q->memory_target, 384ull << 20);
        char *at2 = strstr(body, "\"mode\":\"saved\"");
        ASSERT_NOT_NULL(at2);
        char b2[8192];
        snprintf(b2, sizeof b2, "%.*s\"mode\":\"check\"%s", (int)(at2 - body), body, at2 + 14);
        free(body);
        body = strdup(b2);
        ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why), EINVAL);
        ASSERT_STREQ(why, "memory_target: only in a live or saved request for a VM with dynamic memory");
        free(body);
        free(c), free(p), free(q);
}

/* A resumable channel's pieces: the session in a live request, the
 * answer that takes it, the relay's frames, the resume and its answer. */
/* A firmware VM's BootStatus goes with a live or saved move (docs/firmware.md
 * "Nothing bootable"): one of its words, only for a firmware VM. */
TEST(boot_status_in_live_and_saved_requests) {
        const char *cfg = "{\"name\":\"fw\",\"id\":\"" ID1 "\",\"memory_mib\":512,\"boot\":{\"kind\":\"firmware\"}}";
        const char *kern = "{\"name\":\"k\",\"id\":\"" ID1 "\",\"memory_mib\":512,\"boot\":{\"kernel\":\"/k\"}}";
        struct vm_config *c = calloc(1, sizeof *c), *k = calloc(1, sizeof *k);
        struct vmms_migchan_request *q = calloc(1, sizeof *q);
        char why[256];
        ASSERT_TRUE(c && k && q);
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, why, sizeof why));
        ASSERT_OK(vm_config_parse(kern, strlen(kern), k, why, sizeof why));
        char *body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, "no-bootable-device");
        ASSERT_NOT_NULL(body);
        ASSERT_NOT_NULL(strstr(body, "\"boot_status\":\"no-bootable-device\""));
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_STREQ(q->boot_status, "no-bootable-device");
        free(body);
        body = vmms_migchan_saved_request_build(c, 0, NULL, 1 << 20, true, 0, "booted");
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_STREQ(q->boot_status, "booted");
        free(body);
        /* None ("" or NULL): not on the wire, "" parsed. */
        body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, "");
        ASSERT_NULL(strstr(body, "boot_status"));
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_STREQ(q->boot_status, "");
        free(body);
        /* Not one of its words: not built, refused when sent. */
        ASSERT_NULL(vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, "Booted"));
        body = vmms_migchan_live_request_build(c, 0, NULL, NULL, NULL, 0, "booted");
        char b[8192], *at = strstr(body, "\"booted\"");
        ASSERT_NOT_NULL(at);
        snprintf(b, sizeof b, "%.*s\"rebooted\"%s", (int)(at - body), body, at + 8);
        ASSERT_ERROR(vmms_migchan_request_parse(b, strlen(b), q, why, sizeof why), EINVAL);
        ASSERT_STREQ(why, "boot_status: must be \"firmware\", \"booted\" or \"no-bootable-device\"");
        snprintf(b, sizeof b, "%.*s7%s", (int)(at - body), body, at + 8);
        ASSERT_ERROR(vmms_migchan_request_parse(b, strlen(b), q, why, sizeof why), EINVAL);
        free(body);
        /* A kernel VM has none. */
        body = vmms_migchan_live_request_build(k, 0, NULL, NULL, NULL, 0, "booted");
        ASSERT_ERROR(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why), EINVAL);
        ASSERT_STREQ(why, "boot_status: only in a live or saved request for a firmware VM");
        free(body);
        free(c), free(k), free(q);
}

TEST(resumable_channel) {
        struct vm_config *c = calloc(1, sizeof *c);
        struct vmms_migchan_request *q = calloc(1, sizeof *q);
        ASSERT_NOT_NULL(c);
        ASSERT_NOT_NULL(q);
        char why[128];
        const char *cfg = "{\"name\":\"t\",\"id\":\"" ID1 "\",\"memory_mib\":64,\"boot\":{\"kernel\":\"/k\"}}";
        ASSERT_OK(vm_config_parse(cfg, strlen(cfg), c, why, sizeof why));
        struct vmms_migchan_session s, s2;
        for (size_t i = 0; i < sizeof s.id; i++)
                s.id[i] = (uint8_t)(i * 17 + 3);
        char *body = vmms_migchan_live_request_build(c, 0, NULL, NULL, &s, 0, NULL);
        ASSERT_NOT_NULL(body);
        ASSERT_NOT_NULL(strstr(body, "\"session\":\"031425364758697a"));
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_TRUE(q->has_session);
        ASSERT_EQ(memcmp(&q->session, &s, sizeof s), 0);
        /* Only 32 lowercase hex digits, only in a live request. */
        static const char *const bad[] = { "0314253647586979", "0314253647586979ABCDEFabcdef0123",
                                           "0314253647586979abcdef0123456789a" };
        char *at = strstr(body, "\"session\":\"") + 11;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char b[4096];
                snprintf(b, sizeof b, "%.*s%s%s", (int)(at - body), body, bad[i], at + 32);
                ASSERT_ERROR(vmms_migchan_request_parse(b, strlen(b), q, why, sizeof why), EINVAL);
                ASSERT_STREQ(why, "session: must be 32 hex digits, in a live request");
        }
        free(body);
        body = vmms_migchan_request_build(c, 0, NULL, VMMS_MIGRATE_LIVE);
        ASSERT_OK(vmms_migchan_request_parse(body, strlen(body), q, why, sizeof why));
        ASSERT_FALSE(q->has_session);
        free(body);
        /* The answer that takes it; "resumable" only with ok. */
        bool ok = false, res = false;
        char *a = vmms_migchan_resumable_answer_build();
        ASSERT_OK(vmms_migchan_answer_parse_ex(a, strlen(a), &ok, &res, why, sizeof why));
        ASSERT_TRUE(ok && res);
        ASSERT_OK(vmms_migchan_answer_parse(a, strlen(a), &ok, why, sizeof why)); /* as any answer */
        free(a);
        a = vmms_migchan_answer_build(NULL);
        ASSERT_OK(vmms_migchan_answer_parse_ex(a, strlen(a), &ok, &res, why, sizeof why));
        ASSERT_TRUE(ok && !res);
        free(a);
        const char *neg = "{\"ok\":false,\"error\":\"x\",\"resumable\":true}";
        ASSERT_ERROR(vmms_migchan_answer_parse_ex(neg, strlen(neg), &ok, &res, why, sizeof why), EINVAL);
        /* Frames. */
        uint8_t h[VMMS_MIGCHAN_RFRAME_SIZE];
        enum vmms_migchan_rframe type;
        uint32_t len;
        vmms_migchan_rframe_build(h, VMMS_RFRAME_DATA, VMMS_MIGCHAN_DATA_MAX);
        ASSERT_OK(vmms_migchan_rframe_parse(h, &type, &len));
        ASSERT_TRUE(type == VMMS_RFRAME_DATA && len == VMMS_MIGCHAN_DATA_MAX);
        vmms_migchan_rframe_build(h, VMMS_RFRAME_DATA, VMMS_MIGCHAN_DATA_MAX + 1);
        ASSERT_ERROR(vmms_migchan_rframe_parse(h, &type, &len), EBADMSG);
        vmms_migchan_rframe_build(h, VMMS_RFRAME_DATA, 0);
        ASSERT_ERROR(vmms_migchan_rframe_parse(h, &type, &len), EBADMSG);
        vmms_migchan_rframe_build(h, VMMS_RFRAME_ACK, 8);
        ASSERT_OK(vmms_migchan_rframe_parse(h, &type, &len));
        vmms_migchan_rframe_build(h, VMMS_RFRAME_FIN, 9);
        ASSERT_ERROR(vmms_migchan_rframe_parse(h, &type, &len), EBADMSG);
        vmms_migchan_rframe_build(h, VMMS_RFRAME_ACK, 8);
        h[2] = 1;
        ASSERT_ERROR(vmms_migchan_rframe_parse(h, &type, &len), EBADMSG);
        vmms_migchan_rframe_build(h, (enum vmms_migchan_rframe)4, 8);
        ASSERT_ERROR(vmms_migchan_rframe_parse(h, &type, &len), EBADMSG);
        /* The resume and its answer. */
        uint64_t n = 0;
        char *r = vmms_migchan_resume_build(&s, 123456789012ull);
        ASSERT_EQ(vmms_migchan_resume_parse(r, strlen(r), &s2, &n), 1);
        ASSERT_EQ(memcmp(&s, &s2, sizeof s), 0);
        ASSERT_EQ(n, 123456789012ull);
        ASSERT_EQ(vmms_migchan_query_parse(r, strlen(r), &(struct guid){ 0 }), 0); /* not a query */
        free(r);
        ASSERT_EQ(vmms_migchan_resume_parse("{\"query\":\"x\"}", 13, &s2, &n), 0);
        const char *neg_n = "{\"resume\":\"0314253647586979abcdef0123456789\",\"received\":-1}";
        ASSERT_ERROR(vmms_migchan_resume_parse(neg_n, strlen(neg_n), &s2, &n), EINVAL);
        r = vmms_migchan_resumed_build(77);
        ASSERT_OK(vmms_migchan_resumed_parse(r, strlen(r), &n, why, sizeof why));
        ASSERT_EQ(n, 77u);
        free(r);
        r = vmms_migchan_answer_build("no migration to resume");
        ASSERT_ERROR(vmms_migchan_resumed_parse(r, strlen(r), &n, why, sizeof why), EINVAL);
        ASSERT_STREQ(why, "no migration to resume");
        free(r);
        free(q);
        free(c);
}

TEST(address) {
        char host[64];
        uint16_t port;
        ASSERT_OK(vmms_migchan_address_parse("hostb", host, sizeof host, &port));
        ASSERT_STREQ(host, "hostb");
        ASSERT_EQ(port, VMMS_MIGCHAN_DEFAULT_PORT);
        ASSERT_OK(vmms_migchan_address_parse("10.0.0.2:7000", host, sizeof host, &port));
        ASSERT_STREQ(host, "10.0.0.2");
        ASSERT_EQ(port, 7000);
        ASSERT_OK(vmms_migchan_address_parse("[::1]:7001", host, sizeof host, &port));
        ASSERT_STREQ(host, "::1");
        ASSERT_EQ(port, 7001);
        ASSERT_OK(vmms_migchan_address_parse("[fe80::1]", host, sizeof host, &port));
        ASSERT_EQ(port, VMMS_MIGCHAN_DEFAULT_PORT);
        const char *bad[] = { "", ":7000", "h:", "h:0", "h:65536", "h:7x", "::1", "[::1", "[::1]x", "a b", "h/x:1" };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
                ASSERT_ERROR(vmms_migchan_address_parse(bad[i], host, sizeof host, &port), EINVAL);
}

TEST(migrate_options) {
        struct vmms_migrate_args a;
        char err[128];
        ASSERT_OK(vmms_migrate_args_check("hostb:7000", "live", 150, &a, err, sizeof err));
        ASSERT_STREQ(a.host, "hostb");
        ASSERT_EQ(a.port, 7000);
        ASSERT_EQ(a.max_downtime_ms, 150u);
        ASSERT_FALSE(a.quick);
        ASSERT_OK(vmms_migrate_args_check("hostb", NULL, 0, &a, err, sizeof err));
        ASSERT_FALSE(a.quick);
        ASSERT_OK(vmms_migrate_args_check("hostb", "quick", 0, &a, err, sizeof err));
        ASSERT_TRUE(a.quick);
        ASSERT_EQ(a.start, -1);
        ASSERT_ERROR(vmms_migrate_args_check("hostb", "post-copy", 0, &a, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "mode: 'post-copy' is not supported (live, quick)");
        ASSERT_ERROR(vmms_migrate_args_check("hostb", NULL, 600001, &a, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmms_migrate_args_check("a b", NULL, 0, &a, err, sizeof err), EINVAL);
        ASSERT_STREQ(err, "destination: 'a b' is not HOST or HOST:PORT");
}

/* The query after an unconfirmed commit and its answer. */
TEST(query_and_outcome) {
        struct guid id, back;
        ASSERT_OK(guid_from_string(ID1, &id));
        char *q = vmms_migchan_query_build(&id);
        ASSERT_NOT_NULL(q);
        ASSERT_EQ(vmms_migchan_query_parse(q, strlen(q), &back), 1);
        ASSERT_MEMEQ(&id, &back, sizeof id);
        free(q);
        static const char *const not_queries[] = {
                "{\"config\":\"{}\",\"owner\":0,\"mode\":\"live\"}", /* a request */
                "{}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(not_queries); i++)
                ASSERT_EQ(vmms_migchan_query_parse(not_queries[i], strlen(not_queries[i]), &back), 0);
        static const char *const bad_queries[] = {
                "{\"query\":\"not-a-guid\"}",
                "{\"query\":7}",
                "{\"query\":\"" ID1 "\",\"extra\":1}",
                "{\"query\":\"" ID1 "\"",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad_queries); i++)
                ASSERT_ERROR(vmms_migchan_query_parse(bad_queries[i], strlen(bad_queries[i]), &back), EINVAL);

        enum vmms_migchan_outcome o;
        char why[128];
        for (int k = VMMS_OUTCOME_TAKEN; k <= VMMS_OUTCOME_PENDING; k++) {
                char *a = vmms_migchan_outcome_build((enum vmms_migchan_outcome)k);
                ASSERT_NOT_NULL(a);
                ASSERT_OK(vmms_migchan_outcome_parse(a, strlen(a), &o, why, sizeof why));
                ASSERT_EQ((int)o, k);
                free(a);
        }
        static const char *const bad_outcomes[] = {
                "{\"ok\":true,\"outcome\":\"maybe\"}",
                "{\"ok\":true}",
                "{\"ok\":false,\"outcome\":\"taken\"}",
                "{\"ok\":true,\"outcome\":\"taken\",\"x\":1}",
                "[]",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad_outcomes); i++)
                ASSERT_ERROR(vmms_migchan_outcome_parse(bad_outcomes[i], strlen(bad_outcomes[i]), &o, why, sizeof why),
                             EINVAL);
        /* A refusal (an old destination, or out of memory there) reads as one. */
        const char *refusal = "{\"ok\":false,\"error\":\"out of memory\"}";
        ASSERT_ERROR(vmms_migchan_outcome_parse(refusal, strlen(refusal), &o, why, sizeof why), EINVAL);
        ASSERT_STREQ(why, "out of memory");
}

TEST_MAIN();
