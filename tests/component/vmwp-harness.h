/* SPDX-License-Identifier: MIT */
/* The vmwp binary end to end with tiny PVH guests (tests/guests/vmwp_*.S,
 * booted through the PVH loader), for test-vmwp.c (the lifecycle, the
 * control protocol, disks of a running VM) and test-vmwp-restore.c (saved
 * state): a guest and its configuration in a test directory, a worker
 * started free or under a control socket as vmms runs it, its serial
 * console and its exit. */
#pragma once

#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/display.h"
#include "common/macro.h"
#include "common/proto.h"
#include "common/test.h"
#include "common/vmstate.h"
#include "hvshim/state.h"
#include "hvsock/hvsock.h"
#include "tests/lib/cpufeat-missing.h"
#include "tests/lib/display-client.h"
#include "tests/lib/serial-socket.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmstate-roundtrip.h"
#include "tests/lib/vmwp-child.h"
#include "tests/guests/tinyguest.h"
#include "vid/vid.h"
#include "vmwp/vm.h"

TINY_GUEST(vmwp_basic_elf);
TINY_GUEST(vmwp_smp_elf);
TINY_GUEST(vmwp_irq_elf);

static char dir[] = "/tmp/vmwp-test-XXXXXX";
static char vmwp_bin[1024];

/* Writes the guest and a config; returns the config path (static). */
static inline const char *setup(const char *guest, const char *cmdline, unsigned vcpus, const char *extra) {
        static char cfg[600];
        char kernel[512], json[2048];
        snprintf(kernel, sizeof kernel, "%s/%s.elf", dir, guest);
        if (strcmp(guest, "basic") == 0)
                test_write_file(kernel, tg_vmwp_basic_elf, tg_vmwp_basic_elf_len);
        else if (strcmp(guest, "smp") == 0)
                test_write_file(kernel, tg_vmwp_smp_elf, tg_vmwp_smp_elf_len);
        else
                test_write_file(kernel, tg_vmwp_irq_elf, tg_vmwp_irq_elf_len);
        snprintf(json, sizeof json,
                 "{\"name\":\"tvm\",\"memory_mib\":32,\"vcpus\":%u,\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\","
                 "\"cmdline\":\"%s\"}%s}",
                 vcpus, kernel, cmdline, extra ? extra : "");
        snprintf(cfg, sizeof cfg, "%s/vm.json", dir);
        test_write_file(cfg, json, strlen(json));
        return cfg;
}

static inline struct vmwp_child spawn(const char *const *args, int control_fd) {
        return vmwp_child_spawn(vmwp_bin, args, control_fd, true);
}

static inline int connect_retry(const char *path) {
        return unix_connect_retry(path);
}

/* Reads from fd until `want` appears (or 20 s pass). */
static inline bool read_until(int fd, const char *want, char *buf, size_t cap) {
        return serial_read_until(fd, want, buf, cap, 20000);
}
/* A worker under a control socket, as vmms runs it (tests/lib/vmwp-child.h);
 * serial: a --serial spec or NULL; state_fd >= 0: restore from it. */
static inline struct vmwp_child start_worker(int sv[2], const char *guest, const char *cmdline, const char *serial,
                                             int state_fd, struct json_object **exit_ev) {
        const char *args[] = { "--control-fd", "3", serial ? "--serial" : NULL, serial, NULL };
        char json[4096];
        size_t n = test_read_file(setup(guest, cmdline, 1, NULL), json, sizeof json);
        ASSERT_GT(n, 0u);
        return vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, state_fd, sv, exit_ev);
}

static inline struct vmwp_child start_controlled(int sv[2], const char *guest, const char *cmdline) {
        return start_worker(sv, guest, cmdline, NULL, -1, NULL);
}

static inline void expect_exit(int sock, struct vmwp_child *c, int status, const char *reason) {
        char err[8192];
        struct json_object *m = vmwp_ctl_recv(sock);
        ASSERT_STREQ(vmwp_ctl_str(m, "event"), "exit");
        ASSERT_EQ(vmwp_ctl_int(m, "status"), status);
        if (reason && !strstr(vmwp_ctl_str(m, "reason"), reason))
                ASSERT_STREQ(vmwp_ctl_str(m, "reason"), reason);
        json_object_put(m);
        ASSERT_EQ(vmwp_child_finish(c, 30, err, sizeof err), status);
        close(sock);
}

/* A test program's main: /dev/kvm and the built worker needed (else it
 * skips), the test directory made, the tests run, the directory gone. */
#define VMWP_TEST_MAIN()                                                \
        int main(int argc, char **argv) {                               \
                TEST_REQUIRE_KVM();                                     \
                vmwp_child_require_bin(vmwp_bin, sizeof vmwp_bin);      \
                ASSERT_NOT_NULL(mkdtemp(dir));                          \
                int r = test_run_all_(argc > 1 ? argv[1] : NULL);       \
                (void)test_remove_tree(dir);                            \
                return r;                                               \
        }
