/* SPDX-License-Identifier: MIT */
/* Helpers of the emulated-device component tests (test-emu-*.c): run the
 * vmwp binary on a tiny PVH guest with a configuration, collect its exit
 * status, stderr and serial output, talk to its sockets. */
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "common/test.h"
#include "tests/lib/serial-socket.h"
#include "tests/lib/test-files.h"
#include "tests/lib/vmwp-child.h"

static char emu_dir[] = "/tmp/vmwp-emu-XXXXXX";
static char emu_vmwp[1024];

/* Writes the guest ELF and a configuration with `extra` JSON members;
 * returns the configuration's path (static). */
static const char *emu_setup(const unsigned char *elf, size_t elf_len, const char *extra) {
        static char cfg[600];
        char kernel[512], json[4096];
        snprintf(kernel, sizeof kernel, "%s/guest.elf", emu_dir);
        test_write_file(kernel, elf, elf_len);
        snprintf(json, sizeof json,
                 "{\"name\":\"emu\",\"id\":\"6b0e1e57-3c1c-4f5e-9a46-1d2e3f405162\",\"memory_mib\":64,\"vcpus\":1,"
                 "\"boot\":{\"kind\":\"pvh\",\"kernel\":\"%s\",\"cmdline\":\"\"}%s}",
                 kernel, extra ? extra : "");
        snprintf(cfg, sizeof cfg, "%s/vm.json", emu_dir);
        test_write_file(cfg, json, strlen(json));
        return cfg;
}

static struct vmwp_child emu_spawn(const char *const *args) {
        return vmwp_child_spawn(emu_vmwp, args, -1, false);
}

/* Reads from fd until `want` appears (or timeout_ms passes). */
static inline bool emu_read_until(int fd, const char *want, char *buf, size_t cap, int timeout_ms) {
        size_t n = strlen(buf);
        for (int t = 0; t < timeout_ms && n < cap - 1; t += 10) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 10) <= 0)
                        continue;
                ssize_t k = read(fd, buf + n, cap - 1 - n);
                if (k <= 0)
                        break;
                n += (size_t)k;
                buf[n] = 0;
                if (strstr(buf, want))
                        return true;
        }
        return strstr(buf, want) != NULL;
}

/* A "cost <what> <hex PM timer ticks>" line of a guest: prints and returns
 * microseconds per operation (n operations were timed). */
static inline double emu_cost(const char *serial, const char *what, unsigned n) {
        char key[64];
        snprintf(key, sizeof key, "cost %s ", what);
        const char *p = strstr(serial, key);
        ASSERT_NOT_NULL(p);
        unsigned ticks;
        ASSERT_EQ(sscanf(p + strlen(key), "%x", &ticks), 1);
        ASSERT_GT(ticks, 0u);
        double us = ticks / 3.579545 / n;
        printf("cost: %s: %.1f us per operation (%u timed)\n", what, us, n);
        return us;
}

/* main() of a test-emu program. */
#define EMU_TEST_MAIN()                                                                  \
        int main(int argc, char **argv) {                                                \
                TEST_REQUIRE_KVM();                                                      \
                const char *b = getenv("VM_BUILD_DIR");                                  \
                snprintf(emu_vmwp, sizeof emu_vmwp, "%s/vmwp/vmwp", b ? b : "build/debug"); \
                if (access(emu_vmwp, X_OK) != 0)                                         \
                        TEST_SKIP("%s not built", emu_vmwp);                             \
                ASSERT_NOT_NULL(mkdtemp(emu_dir));                                       \
                int r = test_run_all_(argc > 1 ? argv[1] : NULL);                        \
                char cmd[128];                                                           \
                snprintf(cmd, sizeof cmd, "rm -rf %s", emu_dir);                         \
                (void)!system(cmd);                                                      \
                return r;                                                                \
        }
