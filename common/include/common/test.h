/* SPDX-License-Identifier: MIT */
/* Unit-test helpers: TEST(name) registers a test; the ASSERT_* macros print
 * both values and the location on failure and abort the test program.
 *
 *   TEST(guid_roundtrip) { ASSERT_EQ(guid_from_string(s, &g), 0); }
 *   TEST_MAIN();
 *
 * Exit status: 0 all passed, 1 a failure, 77 skipped (ctest SKIP_RETURN_CODE). */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vm_test {
        const char *name;
        void (*fn)(void);
};

#define TEST(n)                                                                        \
        static void test_##n(void);                                                    \
        static const struct vm_test vm_test_##n                                        \
                __attribute__((used, section("vm_tests"), aligned(sizeof(void *)))) = { \
                        #n, test_##n };                                                \
        static void test_##n(void)

extern const struct vm_test __start_vm_tests[], __stop_vm_tests[];

static inline void test_fail_(const char *file, int line, const char *expr, const char *detail) {
        fprintf(stderr, "%s:%d: assertion failed: %s%s%s\n", file, line, expr,
                detail ? "\n    " : "", detail ? detail : "");
        fflush(stderr);
        exit(1);
}

#define TEST_FMT_(x)                                                      \
        _Generic((x),                                                     \
                _Bool: "%d", char: "%d", signed char: "%d", unsigned char: "%u", \
                short: "%d", unsigned short: "%u", int: "%d", unsigned: "%u", \
                long: "%ld", unsigned long: "%lu", long long: "%lld",    \
                unsigned long long: "%llu", default: "%p")

#define ASSERT_CMP_(a, op, b)                                                              \
        do {                                                                               \
                __typeof__(a) _a_ = (a);                                                   \
                __typeof__(b) _b_ = (b);                                                   \
                _Pragma("GCC diagnostic push")                                             \
                _Pragma("GCC diagnostic ignored \"-Wsign-compare\"")                     \
                bool _ok_ = _a_ op _b_;                                                    \
                _Pragma("GCC diagnostic pop")                                              \
                if (!_ok_) {                                                               \
                        char _fa_[160], _d_[400];                                          \
                        snprintf(_fa_, sizeof _fa_, "left = %s (0x%%llx), right = %s (0x%%llx)", \
                                 TEST_FMT_(_a_), TEST_FMT_(_b_));                          \
                        _Pragma("GCC diagnostic push")                                     \
                        _Pragma("GCC diagnostic ignored \"-Wformat-nonliteral\"")          \
                        snprintf(_d_, sizeof _d_, _fa_, _a_, (unsigned long long)(uintptr_t)_a_, \
                                 _b_, (unsigned long long)(uintptr_t)_b_);                 \
                        _Pragma("GCC diagnostic pop")                                      \
                        test_fail_(__FILE__, __LINE__, #a " " #op " " #b, _d_);            \
                }                                                                          \
        } while (0)

#define ASSERT_EQ(a, b) ASSERT_CMP_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_CMP_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_CMP_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_CMP_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_CMP_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_CMP_(a, >=, b)
#define ASSERT_TRUE(x) ASSERT_CMP_((bool)(x), ==, true)
#define ASSERT_FALSE(x) ASSERT_CMP_((bool)(x), ==, false)
#define ASSERT_NULL(p) ASSERT_CMP_((const void *)(p), ==, NULL)
#define ASSERT_NOT_NULL(p) ASSERT_CMP_((const void *)(p), !=, NULL)

/* r >= 0, printing the errno name of a negative value. */
#define ASSERT_OK(expr)                                                              \
        do {                                                                         \
                long _r_ = (long)(expr);                                             \
                if (_r_ < 0) {                                                       \
                        char _d_[200];                                               \
                        snprintf(_d_, sizeof _d_, "returned %ld (%s)", _r_, strerror((int)-_r_)); \
                        test_fail_(__FILE__, __LINE__, #expr " >= 0", _d_);          \
                }                                                                    \
        } while (0)
/* expr == -errno_value */
#define ASSERT_ERROR(expr, err)                                                      \
        do {                                                                         \
                long _r_ = (long)(expr);                                             \
                if (_r_ != -(long)(err)) {                                           \
                        char _d_[200];                                               \
                        snprintf(_d_, sizeof _d_, "returned %ld (%s), expected %ld (%s)", _r_, \
                                 _r_ < 0 ? strerror((int)-_r_) : "not an error", -(long)(err), \
                                 strerror((int)(err)));                               \
                        test_fail_(__FILE__, __LINE__, #expr " == -" #err, _d_);     \
                }                                                                    \
        } while (0)

#define ASSERT_STREQ(a, b)                                                           \
        do {                                                                         \
                const char *_a_ = (a), *_b_ = (b);                                   \
                if (!_a_ || !_b_ || strcmp(_a_, _b_) != 0) {                         \
                        char _d_[600];                                               \
                        snprintf(_d_, sizeof _d_, "left = \"%.250s\", right = \"%.250s\"",   \
                                 _a_ ? _a_ : "(null)", _b_ ? _b_ : "(null)");        \
                        test_fail_(__FILE__, __LINE__, #a " == " #b, _d_);           \
                }                                                                    \
        } while (0)

#define ASSERT_MEMEQ(a, b, n)                                                        \
        do {                                                                         \
                const uint8_t *_a_ = (const uint8_t *)(a), *_b_ = (const uint8_t *)(b); \
                size_t _n_ = (n);                                                    \
                for (size_t _i_ = 0; _i_ < _n_; _i_++)                               \
                        if (_a_[_i_] != _b_[_i_]) {                                  \
                                char _d_[120];                                       \
                                snprintf(_d_, sizeof _d_, "first difference at byte %zu: 0x%02x != 0x%02x", \
                                         _i_, _a_[_i_], _b_[_i_]);                   \
                                test_fail_(__FILE__, __LINE__, "memcmp(" #a ", " #b ", " #n ") == 0", _d_); \
                        }                                                            \
        } while (0)

/* Waits up to 5 s (polling each millisecond) for cond, then asserts it. */
#define WAIT_FOR(cond)                                                        \
        do {                                                                  \
                int _i_;                                                      \
                for (_i_ = 0; _i_ < 5000 && !(cond); _i_++)                   \
                        usleep(1000);                                         \
                ASSERT_TRUE(cond);                                            \
        } while (0)

#define TEST_SKIP_CODE 77
#define TEST_SKIP(...)                                  \
        do {                                            \
                printf("SKIP: " __VA_ARGS__);           \
                printf("\n");                           \
                exit(TEST_SKIP_CODE);                   \
        } while (0)

/* Whether a program that some checks of a test run (an oracle such as
 * qemu-img) is on PATH. Where it is not, the test says so once, naming the
 * package, and runs its other checks: not silently less. (The last program
 * asked about is remembered: a test that asks in a loop runs no shell.) */
static inline bool test_have_program(const char *prog, const char *package) {
        static char known[64];
        static bool have;
        if (strcmp(known, prog) != 0) {
                char cmd[128];
                snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
                have = system(cmd) == 0;
                snprintf(known, sizeof known, "%s", prog);
                if (!have) {
                        printf("NOTE: %s not installed (%s, scripts/deps.sh): the checks that run it are left out\n",
                               prog, package);
                        fflush(stdout);
                }
        }
        return have;
}

static inline int test_remove_one_(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        return remove(path) == 0 ? 0 : -errno;
}

/* rm -rf without a shell: a test's temporary directory and all in it, the
 * entries before their directory, links not followed. 0 (also for a
 * missing or empty name), or -errno of the first entry that would not go. */
static inline int test_remove_tree(const char *dir) {
        if (!dir || !dir[0])
                return 0;
        int r = nftw(dir, test_remove_one_, 16, FTW_DEPTH | FTW_PHYS);
        if (r == -1)
                return errno == ENOENT ? 0 : -errno;
        return r;
}

/* A test that runs a program: skip, naming the package, where it is not
 * on PATH (scripts/deps.sh installs it). */
#define TEST_REQUIRE_PROGRAM(prog, package)                                                  \
        do {                                                                                 \
                if (system("command -v " prog " >/dev/null 2>&1") != 0)                      \
                        TEST_SKIP("%s not installed (%s, scripts/deps.sh)", prog, package);  \
        } while (0)

/* Component tests need a working /dev/kvm; skip with a clear message if absent. */
#define TEST_REQUIRE_KVM()                                                              \
        do {                                                                            \
                int _fd_ = open("/dev/kvm", O_RDWR | O_CLOEXEC);                        \
                if (_fd_ < 0)                                                           \
                        TEST_SKIP("/dev/kvm not usable (%s): component test needs KVM", \
                                  strerror(errno));                                     \
                close(_fd_);                                                            \
        } while (0)

static inline int test_run_all_(const char *filter) {
        int n = 0;
        for (const struct vm_test *t = __start_vm_tests; t < __stop_vm_tests; t++) {
                if (filter && !strstr(t->name, filter))
                        continue;
                printf("=== %s\n", t->name);
                fflush(stdout);
                t->fn();
                n++;
        }
        printf("%d test(s) passed\n", n);
        return n > 0 ? 0 : 1;
}

/* Optional argv[1] filters tests by substring. */
#define TEST_MAIN()                                                 \
        int main(int argc, char **argv) {                           \
                return test_run_all_(argc > 1 ? argv[1] : NULL);    \
        }
