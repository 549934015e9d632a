// SPDX-License-Identifier: MIT
/* File copy, the Copy-VMFile integration service (hv/ic.h,
 * docs/integration-services.md "File copy"): the host writes a file into
 * the guest. A Linux guest hands each request to hv_fcopy_daemon and
 * answers it in place with the daemon's result, so a transfer is a chain
 * of single requests: START_FILE_COPY, WRITE_TO_FILE per 6 KiB fragment,
 * COMPLETE_FCOPY; CANCEL_FCOPY instead when it fails on our side, when the
 * guest refused a write, or when the owner cancels.
 *
 * The data requests are built on the icvsp thread when they go (tick), from
 * the caller's fd: an answer only decides what goes next, so a pause holds
 * the next request simply by not ticking, and nothing larger than the START
 * is ever held (IC_HELD_BODY_MAX). Every callback runs with ic->lock held. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "internal.h"

static const struct ic_version fcopy_versions[] = { { 1, 1 } }; /* hv_fcopy.c: WIN8_SRV_VERSION only */

#define FC_NOTHING (-1) /* fc->next: nothing to send (one is outstanding, or idle) */

struct ic_fcopy {
        bool active; /* icvsp_fcopy_start .. fcopy_done */
        bool cancel; /* icvsp_fcopy_cancel: CANCEL_FCOPY after the outstanding answer */
        bool ending; /* COMPLETE_FCOPY or CANCEL_FCOPY chosen: the outcome is decided */
        int fd;      /* the caller's, never closed here */
        int next;    /* enum hv_fcopy_op tick sends next, or FC_NOTHING */
        uint32_t sent;  /* the operation of the last request sent */
        uint32_t chunk; /* data bytes of the WRITE_TO_FILE sent */
        uint64_t size, acked, reported;
        int result;      /* what fcopy_done reports once the CANCEL_FCOPY is answered */
        uint32_t status;
        struct hv_do_fcopy msg; /* the WRITE_TO_FILE being sent */
};

int ic_fcopy_new(struct ic_service *s) {
        s->fcopy = calloc(1, sizeof *s->fcopy);
        if (!s->fcopy)
                return -ENOMEM;
        s->fcopy->fd = -1;
        s->fcopy->next = FC_NOTHING;
        return 0;
}

void ic_fcopy_free(struct ic_service *s) {
        free(s->fcopy);
        s->fcopy = NULL;
}

bool ic_fcopy_active(const struct ic_service *s) {
        return s->fcopy && s->fcopy->active;
}

/* ---- the START_FILE_COPY body (pure) ---- */

static int put_name(struct hv_start_fcopy *m, size_t off, const char *s) {
        uint8_t u16[2 * HV_FCOPY_W_MAX_PATH];
        int n = ic_utf8_to_utf16(s, u16, sizeof u16);
        if (n < 0)
                return -EINVAL;
        memcpy((uint8_t *)m + off, u16, (size_t)n); /* the rest stays 0 */
        return 0;
}

/* hv_fcopy.c converts each name into ICVSP_FCOPY_NAME_MAX bytes of UTF-8,
 * so a name within that many UTF-8 bytes also fits the wire's 259 UTF-16
 * units. hv_fcopy_daemon creates the directories of path_name up to its
 * last '/' only (FCOPY_CREATE_PATH), so the directory goes with a trailing
 * '/'; it then opens path_name + "/" + file_name. */
int ic_fcopy_build_start(struct hv_start_fcopy *m, const char *dir, const char *name, uint64_t size,
                         uint32_t flags) {
        if (!dir || !name || dir[0] != '/' || !name[0] || strchr(name, '/') || !strcmp(name, ".") ||
            !strcmp(name, "..") || (flags & ~(FCOPY_OVER_WRITE | FCOPY_CREATE_PATH)))
                return -EINVAL;
        size_t dlen = strlen(dir);
        bool slash = dir[dlen - 1] == '/';
        if (strlen(name) > ICVSP_FCOPY_NAME_MAX || dlen + !slash > ICVSP_FCOPY_NAME_MAX)
                return -EINVAL;
        char d[ICVSP_FCOPY_NAME_MAX + 1];
        memcpy(d, dir, dlen);
        if (!slash)
                d[dlen++] = '/';
        d[dlen] = '\0';
        memset(m, 0, sizeof *m);
        m->hdr.operation = START_FILE_COPY;
        m->copy_flags = flags;
        m->file_size = size;
        int r = put_name(m, offsetof(struct hv_start_fcopy, file_name), name);
        if (r == 0)
                r = put_name(m, offsetof(struct hv_start_fcopy, path_name), d);
        return r;
}

/* ---- the transfer (icvsp thread, or API calls; ic->lock held) ---- */

static void report_done(struct ic_service *s, int r, uint32_t status) {
        struct ic_fcopy *fc = s->fcopy;
        fc->active = false;
        fc->next = FC_NOTHING;
        fc->fd = -1;
        if (s->ic->ops && s->ic->ops->fcopy_done)
                s->ic->ops->fcopy_done(s->ic->opaque, r, status, fc->acked);
}

static void report_progress(struct ic_service *s) {
        struct ic_fcopy *fc = s->fcopy;
        fc->reported = fc->acked;
        if (s->ic->ops && s->ic->ops->fcopy_progress)
                s->ic->ops->fcopy_progress(s->ic->opaque, fc->acked);
}

/* End with CANCEL_FCOPY (the guest's daemon deletes what it wrote); done
 * reports r/status once that is answered. */
static void end_with_cancel(struct ic_fcopy *fc, int r, uint32_t status) {
        fc->result = r;
        fc->status = status;
        fc->next = CANCEL_FCOPY;
        fc->ending = true;
}

/* The next fragment from the caller's fd at the acknowledged offset; the
 * whole struct goes (Linux passes sizeof to its daemon), zeroed past the
 * data. -EIO if the read fails or the file ends before fc->size. */
static int fill_chunk(struct ic_fcopy *fc) {
        uint32_t n = (uint32_t)MIN((uint64_t)HV_FCOPY_DATA_FRAGMENT, fc->size - fc->acked);
        size_t got = 0;
        while (got < n) {
                ssize_t r = pread(fc->fd, fc->msg.data + got, n - got, (off_t)(fc->acked + got));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -EIO;
                got += (size_t)r;
        }
        memset(&fc->msg, 0, offsetof(struct hv_do_fcopy, data));
        memset(fc->msg.data + n, 0, sizeof fc->msg.data - n);
        fc->msg.hdr.operation = WRITE_TO_FILE;
        fc->msg.offset = fc->acked;
        fc->msg.size = n;
        fc->chunk = n;
        return 0;
}

static void fcopy_ready(struct ic_service *s, uint64_t now) {
}

/* Send what the last answer (or icvsp_fcopy_cancel) chose; not while
 * paused (icvsp.c does not tick then), so a pause holds it. */
static void fcopy_tick(struct ic_service *s, uint64_t now) {
        struct ic_fcopy *fc = s->fcopy;
        if (!fc->active || fc->next == FC_NOTHING || s->outstanding || s->held)
                return;
        if (fc->next == WRITE_TO_FILE && fill_chunk(fc) < 0)
                end_with_cancel(fc, -EIO, HV_S_OK);
        struct hv_fcopy_hdr hdr = { .operation = (uint32_t)fc->next };
        bool write = fc->next == WRITE_TO_FILE;
        int r = ic_send_request(s, write ? (const void *)&fc->msg : &hdr, write ? sizeof fc->msg : sizeof hdr, now);
        if (r == -EAGAIN) /* the guest's ring is full: again at the next tick */
                return;
        if (r < 0) {
                bool cancel = fc->next == CANCEL_FCOPY;
                report_done(s, cancel ? fc->result : -EIO, cancel ? fc->status : HV_S_OK);
                return;
        }
        fc->sent = (uint32_t)fc->next;
        fc->next = FC_NOTHING;
}

static void fcopy_response(struct ic_service *s, const struct icmsg_hdr *h, const uint8_t *body, size_t len,
                           uint64_t now) {
        struct ic_fcopy *fc = s->fcopy;
        uint32_t status = h->status;
        if (!fc->active) /* every request belongs to a transfer: cannot happen */
                return;
        switch (fc->sent) {
        case START_FILE_COPY:
                if (status != HV_S_OK) {
                        report_done(s, -EIO, status); /* nothing was created */
                        return;
                }
                break;
        case WRITE_TO_FILE:
                if (status != HV_S_OK) {
                        end_with_cancel(fc, -EIO, status);
                        return;
                }
                fc->acked += fc->chunk;
                if (fc->acked == fc->size || fc->acked - fc->reported >= ICVSP_FCOPY_PROGRESS_STEP)
                        report_progress(s);
                break;
        case COMPLETE_FCOPY:
                report_done(s, status == HV_S_OK ? 0 : -EIO, status);
                return;
        default: /* CANCEL_FCOPY: its own answer does not change the outcome */
                report_done(s, fc->result, fc->status);
                return;
        }
        if (fc->cancel) {
                end_with_cancel(fc, -ECANCELED, HV_S_OK);
        } else if (fc->acked == fc->size) {
                fc->next = COMPLETE_FCOPY;
                fc->ending = true;
        } else {
                fc->next = WRITE_TO_FILE;
        }
}

/* Not answered in time (the guest's daemon hangs; Linux itself answers
 * E_FAIL after 30 s), or a START held while quiesced that could not be
 * sent at resume (its clock was just restarted). A close comes through
 * fcopy_closed. */
static void fcopy_abandoned(struct ic_service *s, uint64_t now) {
        struct ic_fcopy *fc = s->fcopy;
        if (!fc->active || !s->sc.ch)
                return;
        if (fc->sent == CANCEL_FCOPY) /* best effort: the outcome was decided */
                report_done(s, fc->result, fc->status);
        else
                report_done(s, now - s->sent_us > ic_service_timeout_us(s) ? -ETIMEDOUT : -EIO, HV_S_OK);
}

static void fcopy_closed(struct ic_service *s, uint64_t now) {
        if (s->fcopy->active)
                report_done(s, -ECONNRESET, HV_S_OK);
}

const struct ic_service_ops ic_fcopy_ops = {
        .name = "fcopy",
        .msgtype = ICMSGTYPE_FCOPY,
        .msg_versions = fcopy_versions,
        .n_msg_versions = ARRAY_SIZE(fcopy_versions),
        .timeout_ms = ICVSP_FCOPY_TIMEOUT_MS,
        .guest_clock = true,
        .ready = fcopy_ready,
        .tick = fcopy_tick,
        .response = fcopy_response,
        .abandoned = fcopy_abandoned,
        .closed = fcopy_closed,
};

/* ---- API ---- */

int icvsp_fcopy_start(struct icvsp *ic, int fd, const char *dir, const char *name, uint64_t size,
                      uint32_t flags) {
        if (!ic->enabled[IC_FCOPY])
                return -ENOTSUP;
        struct hv_start_fcopy m;
        int r = ic_fcopy_build_start(&m, dir, name, size, flags);
        if (r < 0)
                return r;
        if (fd < 0)
                return -EBADF;
        if (size > INT64_MAX) /* pread's offsets */
                return -EFBIG;
        struct ic_service *s = &ic->svc[IC_FCOPY];
        struct ic_fcopy *fc = s->fcopy;
        pthread_mutex_lock(&ic->lock);
        r = fc->active ? -EBUSY : ic_request(s, &m, sizeof m, ic_now_us());
        if (r == 0) {
                fc->active = true;
                fc->cancel = fc->ending = false;
                fc->fd = fd;
                fc->next = FC_NOTHING;
                fc->sent = START_FILE_COPY;
                fc->size = size;
                fc->acked = fc->reported = 0;
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

int icvsp_fcopy_cancel(struct icvsp *ic) {
        if (!ic->enabled[IC_FCOPY])
                return -ENOTSUP;
        struct ic_fcopy *fc = ic->svc[IC_FCOPY].fcopy;
        pthread_mutex_lock(&ic->lock);
        int r = !fc->active ? -ENOENT : fc->cancel || fc->ending ? -EALREADY : 0;
        if (r == 0) {
                fc->cancel = true;
                /* Answered, the next fragment not sent yet (paused): cancel now. */
                if (fc->next == WRITE_TO_FILE)
                        end_with_cancel(fc, -ECANCELED, HV_S_OK);
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

bool icvsp_fcopy_busy(struct icvsp *ic) {
        if (!ic->enabled[IC_FCOPY])
                return false;
        pthread_mutex_lock(&ic->lock);
        bool busy = ic->svc[IC_FCOPY].fcopy->active;
        pthread_mutex_unlock(&ic->lock);
        return busy;
}

bool icvsp_fcopy_ready(struct icvsp *ic) {
        if (!ic->enabled[IC_FCOPY])
                return false;
        pthread_mutex_lock(&ic->lock);
        bool ready = ic->svc[IC_FCOPY].sc.ch && ic->svc[IC_FCOPY].negotiated;
        pthread_mutex_unlock(&ic->lock);
        return ready;
}
