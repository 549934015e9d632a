// SPDX-License-Identifier: MIT
/* The RTC on a vid partition: its two ports, and its timer as a timerfd on
 * the emulated devices' service thread (armed from vCPU threads too:
 * timerfd_settime is all it takes). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/macro.h"
#include "emu/rtc.h"
#include "emu/service.h"
#include "vid/vid.h"

static void arm(struct rtc *r, int64_t deadline) {
        struct itimerspec its = { 0 };
        if (deadline > 0)
                its.it_value = (struct timespec){ .tv_sec = deadline / 1000000000ll,
                                                  .tv_nsec = deadline % 1000000000ll };
        (void)timerfd_settime(r->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void expired(void *opaque, short revents) {
        struct rtc *r = opaque;
        uint64_t n;
        (void)!read(r->timer_fd, &n, sizeof n);
        struct rtc_clock now;
        rtc_clock_now(&now);
        rtc_tick(r, &now);
}

static void index_write(void *o, struct vid_vp *vp, uint64_t off, const void *d, unsigned len) {
        struct rtc_clock now;
        rtc_clock_now(&now);
        rtc_write(o, (uint16_t)(RTC_INDEX_PORT + off), *(const uint8_t *)d, &now);
}

static void data_read(void *o, struct vid_vp *vp, uint64_t off, void *d, unsigned len) {
        struct rtc_clock now;
        rtc_clock_now(&now);
        uint8_t v = rtc_read(o, (uint16_t)(RTC_INDEX_PORT + off), &now);
        memcpy(d, &v, 1);
}

static const struct vid_io_ops ops = { .read = data_read, .write = index_write };

static void close_timer(void *opaque) {
        struct rtc *r = opaque;
        r->arm = NULL;
        r->timer_fd = safe_close(r->timer_fd);
}

int rtc_attach(struct rtc *r, struct vid_partition *p, struct emu_service *s) {
        int r2 = vid_register_pio(p, RTC_INDEX_PORT, 2, &ops, r);
        if (r2 < 0)
                return r2;
        int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (fd < 0)
                return -errno;
        int src = emu_service_add(s, fd, POLLIN, expired, r);
        if (src < 0 || (r2 = emu_service_on_exit(s, close_timer, r)) < 0) {
                if (src >= 0)
                        emu_service_remove(s, src);
                safe_close(fd);
                return src < 0 ? src : r2;
        }
        pthread_mutex_lock(&r->lock);
        r->timer_fd = fd;
        r->arm = arm;
        pthread_mutex_unlock(&r->lock);
        return 0;
}
