/* SPDX-License-Identifier: MIT */
/* Logging. Libraries log at debug at most and return errors; the caller that
 * decides logs once. Anything a guest can trigger goes through a ratelimit. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/macro.h"

enum log_level {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

/* A sink receives fully formatted lines; default writes to stderr. */
typedef void (*log_sink_fn)(int level, const char *file, int line, const char *func,
                            const char *msg, void *userdata);

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_sink(log_sink_fn fn, void *userdata);
/* Reads VM_LOG_LEVEL (err, warning, notice, info, debug or 3..7). */
void log_parse_environment(void);
/* Prefix added to every stderr line (e.g. "vmwp[vm1]"). */
void log_set_prefix(const char *prefix);

/* For functions that report a failure as a sentence in a caller's buffer
 * rather than a log line: writes it into err (NULL or errlen 0: nowhere)
 * and returns r, so "return errorf(err, errlen, -EINVAL, ...)". */
int errorf(char *err, size_t errlen, int r, const char *fmt, ...) _printf_(4, 5);

/* Returns -abs(error) so it can be used as "return log_error_errno(r, ...)".
 * "%m" in fmt expands to strerror(-error). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void)log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_debug_errno(e, ...) log_full_errno(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_LEVEL_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_LEVEL_ERR, (e), __VA_ARGS__)

/* Rate limiting: at most `burst` events per `interval_us`; the number of
 * suppressed events is reported with the next allowed one. Thread-safe. */
struct ratelimit {
        uint64_t interval_us;
        unsigned burst;
        /* internal */
        uint64_t begin_us;
        unsigned num;
        unsigned suppressed;
        int lock;
};
#define RATELIMIT_INIT(interval, b) { .interval_us = (interval), .burst = (b) }

/* Returns true if the event may be logged; *suppressed (optional) receives
 * the number of events dropped since the last allowed one. */
bool ratelimit_below(struct ratelimit *rl, unsigned *suppressed);

#define log_ratelimited(rl, level, ...)                                          \
        do {                                                                     \
                unsigned _sup_;                                                  \
                if (ratelimit_below((rl), &_sup_)) {                             \
                        if (_sup_)                                               \
                                log_full((level), "(%u similar messages suppressed)", _sup_); \
                        log_full((level), __VA_ARGS__);                          \
                }                                                                \
        } while (0)

uint64_t now_us(int clock_id);
