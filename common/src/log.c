// SPDX-License-Identifier: MIT
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"

/* Process-wide logging configuration: the one piece of global state we keep,
 * set once at start-up by main(). */
static int log_max_level = LOG_LEVEL_INFO;
static log_sink_fn log_sink;
static void *log_sink_userdata;
static char log_prefix[64];

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_set_sink(log_sink_fn fn, void *userdata) {
        log_sink = fn;
        log_sink_userdata = userdata;
}

void log_set_prefix(const char *prefix) {
        snprintf(log_prefix, sizeof log_prefix, "%s", prefix ? prefix : "");
}

void log_parse_environment(void) {
        static const char *const names[] = {
                [LOG_LEVEL_ERR] = "err",   [LOG_LEVEL_WARNING] = "warning",
                [LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
                [LOG_LEVEL_DEBUG] = "debug",
        };
        const char *e = getenv("VM_LOG_LEVEL");
        if (!e || !*e)
                return;
        for (int i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++)
                if (strcasecmp(e, names[i]) == 0) {
                        log_max_level = i;
                        return;
                }
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == 0 && v >= 0 && v <= LOG_LEVEL_DEBUG)
                log_max_level = (int)v;
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *fmt, ...) {
        int r = error < 0 ? error : -error;
        if (level > log_max_level)
                return r;

        /* Expand %m ourselves from the explicit error, not from errno. */
        char fmtbuf[512], msg[1024];
        const char *errstr = error ? strerror(error < 0 ? -error : error) : "Success";
        size_t o = 0;
        for (const char *p = fmt; *p && o + 1 < sizeof fmtbuf; p++) {
                if (p[0] == '%' && p[1] == 'm') {
                        for (const char *s = errstr; *s && o + 1 < sizeof fmtbuf; s++)
                                fmtbuf[o++] = *s == '%' ? ' ' : *s;
                        p++;
                } else if (p[0] == '%' && p[1] == '%') {
                        fmtbuf[o++] = *p++;
                        if (o + 1 < sizeof fmtbuf)
                                fmtbuf[o++] = *p;
                } else
                        fmtbuf[o++] = *p;
        }
        fmtbuf[o] = 0;

        va_list ap;
        va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(msg, sizeof msg, fmtbuf, ap);
#pragma GCC diagnostic pop
        va_end(ap);

        if (log_sink)
                log_sink(level, file, line, func, msg, log_sink_userdata);
        else if (log_prefix[0])
                fprintf(stderr, "%s: %s\n", log_prefix, msg);
        else
                fprintf(stderr, "%s\n", msg);
        return r;
}

uint64_t now_us(int clock_id) {
        struct timespec ts;
        clock_gettime(clock_id, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool ratelimit_below(struct ratelimit *rl, unsigned *suppressed) {
        uint64_t t = now_us(CLOCK_MONOTONIC);
        bool ok;

        while (__atomic_exchange_n(&rl->lock, 1, __ATOMIC_ACQUIRE))
                ;
        if (suppressed)
                *suppressed = 0;
        if (rl->begin_us == 0 || t - rl->begin_us >= rl->interval_us) {
                if (suppressed)
                        *suppressed = rl->suppressed;
                rl->begin_us = t;
                rl->num = 0;
                rl->suppressed = 0;
        }
        ok = rl->num < rl->burst;
        if (ok)
                rl->num++;
        else
                rl->suppressed++;
        __atomic_store_n(&rl->lock, 0, __ATOMIC_RELEASE);
        return ok;
}

int errorf(char *err, size_t errlen, int r, const char *fmt, ...) {
        if (err && errlen) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, errlen, fmt, ap);
                va_end(ap);
        }
        return r;
}
