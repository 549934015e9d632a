// SPDX-License-Identifier: MIT
/* Live migration, the source (vmwp/migrate.h, docs/migration.md).
 *
 * Pre-copy: dirty tracking on, all of RAM's data extents sent while the
 * guest runs (an all-zero page as a ZERO record, never as data), then pass
 * after pass the pages dirtied during the previous one, measuring the
 * bandwidth reached and the rate the guest dirties pages, until sending
 * what is dirty would fit the downtime budget. Then the switch-over: the
 * VM paused (vCPUs parked, devices quiesced), the final saved state (the
 * devices' and vid's sections, the RAM section holding only the last
 * dirty pages: the saved-state format, so the destination reuses the
 * restore path) streamed after a STATE record, and the destination's
 * RUNNING awaited. Any failure stops the tracking and resumes the VM if
 * this code paused it: one copy runs, here.
 *
 * Pages are copied into a buffer before they are checked for zero and
 * CRC'd: the guest keeps writing them, and the record must carry one
 * consistent snapshot of each page (the dirty log catches the later
 * writes). */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/migcommit.h"
#include "common/migstream.h"
#include "common/vmstate.h"
#include "disk/disk.h"
#include "vid/state.h"
#include "vid/vid.h"
#include "vm-internal.h"
#include "vmwp/migrate.h"
#include "vmwp/postcopy.h"

#define PAGE MIG_PAGE_SIZE
/* Pausing and quiescing, the vCPU and device sections: what a switch-over
 * costs besides the pages (measured 1-2 ms; generous). */
#define SWITCH_OVERHEAD_NS (3u * 1000000u)

void vmwp_migrate_options_init(struct vmwp_migrate_options *o) {
        *o = (struct vmwp_migrate_options){ .max_downtime_ms = 300, .max_passes = 30, .max_time_ms = 60000,
                                            .peer_timeout_ms = 30000, .auto_converge = true };
}

int vmwp_migrate_options_parse(struct json_object *req, struct vmwp_migrate_options *o, char *err, size_t errlen) {
        static const struct {
                const char *key;
                size_t off;
                int64_t min, max;
        } keys[] = {
                { "max_downtime_ms", offsetof(struct vmwp_migrate_options, max_downtime_ms), 0, 600000 },
                { "max_passes", offsetof(struct vmwp_migrate_options, max_passes), 1, 1000 },
                { "max_time_ms", offsetof(struct vmwp_migrate_options, max_time_ms), 1, 3600000 },
                { "peer_timeout_ms", offsetof(struct vmwp_migrate_options, peer_timeout_ms), 100, 600000 },
        };
        vmwp_migrate_options_init(o);
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                struct json_object *v;
                if (!json_object_object_get_ex(req, keys[i].key, &v))
                        continue;
                int64_t n = json_object_get_int64(v);
                if (!json_object_is_type(v, json_type_int) || n < keys[i].min || n > keys[i].max)
                        return errorf(err, errlen, -EINVAL, "\"%s\" must be an integer from %lld to %lld", keys[i].key,
                                      (long long)keys[i].min, (long long)keys[i].max);
                *(uint32_t *)((char *)o + keys[i].off) = (uint32_t)n;
        }
        static const struct {
                const char *key;
                size_t off;
        } flags[] = {
                { "auto_converge", offsetof(struct vmwp_migrate_options, auto_converge) },
                { "copy_disks", offsetof(struct vmwp_migrate_options, copy_disks) },
                { "postcopy", offsetof(struct vmwp_migrate_options, postcopy) },
        };
        for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
                struct json_object *v;
                if (!json_object_object_get_ex(req, flags[i].key, &v))
                        continue;
                if (!json_object_is_type(v, json_type_boolean))
                        return errorf(err, errlen, -EINVAL, "\"%s\" must be true or false", flags[i].key);
                *(bool *)((char *)o + flags[i].off) = json_object_get_boolean(v);
        }
        return 0;
}

uint32_t vmwp_migrate_throttle_next(uint32_t pct, uint64_t prev_expect_ns, uint64_t expect_ns, uint64_t budget_ns) {
        if (expect_ns <= budget_ns || !prev_expect_ns || expect_ns < prev_expect_ns / 4 * 3)
                return pct;
        if (!pct)
                return VMWP_THROTTLE_INITIAL_PCT;
        return MIN(pct + VMWP_THROTTLE_STEP_PCT, VMWP_THROTTLE_MAX_PCT);
}

/* ---- the socket ---- */

struct sender {
        int fd;
        int timeout_ms;
        uint64_t bytes; /* sent so far */
        uint8_t *buf;   /* a record being built: header, then up to MIG_PAGES_MAX of pages */
        /* Where the pages being built are: 0, guest RAM (PAGES, ZERO);
         * k > 0, device memory k - 1 (DEVMEM, DEVMEM_ZERO). */
        uint32_t space;
        uint64_t pages_at, pages_len;   /* the PAGES record in buf */
        uint64_t zero_at, zero_len;     /* the ZERO run not sent yet */
        uint64_t n_pages, n_zero;       /* of guest RAM */
        uint64_t devmem_bytes;          /* device memory sent (DEVMEM payloads) */
};

static int send_all(struct sender *s, const void *buf, size_t len) {
        const uint8_t *b = buf;
        while (len > 0) {
                ssize_t k = send(s->fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                        int r = mig_wait_fd(s->fd, POLLOUT, s->timeout_ms);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                b += k, len -= (size_t)k, s->bytes += (uint64_t)k;
        }
        return 0;
}

static int send_record(struct sender *s, uint32_t type, uint64_t addr, uint64_t length, const void *payload) {
        uint8_t hdr[MIG_RECORD_HEADER];
        /* ZERO has no payload: its length is the range's. */
        mig_record_encode(hdr, type, addr, length, payload ? vmstate_crc32c(0, payload, length) : 0);
        int r = send_all(s, hdr, sizeof hdr);
        return r < 0 || !payload ? r : send_all(s, payload, length);
}

static int flush_pages(struct sender *s) {
        if (!s->pages_len)
                return 0;
        uint8_t *payload = s->buf + MIG_RECORD_HEADER;
        uint32_t crc = vmstate_crc32c(0, payload, s->pages_len);
        if (s->space) {
                mig_record_encode_index(s->buf, MIG_DEVMEM, s->space - 1, s->pages_at, s->pages_len, crc);
                s->devmem_bytes += s->pages_len;
        } else {
                mig_record_encode(s->buf, MIG_PAGES, s->pages_at, s->pages_len, crc);
                s->n_pages += s->pages_len / PAGE;
        }
        uint64_t len = s->pages_len;
        s->pages_len = 0;
        return send_all(s, s->buf, MIG_RECORD_HEADER + len);
}

static int flush_zero(struct sender *s) {
        if (!s->zero_len)
                return 0;
        uint64_t len = s->zero_len;
        s->zero_len = 0;
        if (!s->space) {
                s->n_zero += len / PAGE;
                return send_record(s, MIG_ZERO, s->zero_at, len, NULL);
        }
        uint8_t hdr[MIG_RECORD_HEADER];
        mig_record_encode_index(hdr, MIG_DEVMEM_ZERO, s->space - 1, s->zero_at, len, 0);
        return send_all(s, hdr, sizeof hdr);
}

/* len: a multiple of 8 (a page, a disk chunk). */
static bool all_zero(const uint8_t *p, size_t len) {
        const uint64_t *w = (const uint64_t *)(const void *)p;
        uint64_t acc = 0;
        for (size_t i = 0; i < len / 8; i++)
                acc |= w[i];
        return acc == 0;
}

static int flush(struct sender *s) {
        int r = flush_pages(s);
        return r < 0 ? r : flush_zero(s);
}

/* The page at offset off of space (struct sender: 0 for guest RAM), whose
 * memory starts at base, into the records being built. */
static int send_page(struct sender *s, uint32_t space, const uint8_t *base, uint64_t off) {
        int r;
        if (space != s->space) {
                if ((r = flush(s)) < 0)
                        return r;
                s->space = space;
        }
        if (s->pages_len && (s->pages_at + s->pages_len != off || s->pages_len == MIG_PAGES_MAX) &&
            (r = flush_pages(s)) < 0)
                return r;
        uint8_t *slot = s->buf + MIG_RECORD_HEADER + s->pages_len;
        memcpy(slot, base + off, PAGE);
        if (all_zero(slot, PAGE)) {
                if ((r = flush_pages(s)) < 0)
                        return r;
                if (s->zero_len && s->zero_at + s->zero_len != off && (r = flush_zero(s)) < 0)
                        return r;
                if (!s->zero_len)
                        s->zero_at = off;
                s->zero_len += PAGE;
                return 0;
        }
        if ((r = flush_zero(s)) < 0)
                return r;
        if (!s->pages_len)
                s->pages_at = off;
        s->pages_len += PAGE;
        return 0;
}

/* ---- the passes ---- */

/* A writable disk whose content goes along (copy_disks). */
struct mdisk {
        struct disk *d;
        uint32_t index; /* in the configuration: the DISK records' */
        uint64_t size;
        uint64_t *dirty; /* chunks written since they were last sent (disk_track_take) */
        size_t words;
};

/* A device memory that goes along (vmwp_devices_memory: a VRAM). */
struct mmem {
        const uint8_t *host;
        size_t len;
        int fd; /* its memfd, or -1 */
        uint64_t *dirty; /* pages written since they were last sent (vid_devmem_dirty_get) */
        uint64_t *more;  /* the switch-over's last look */
};

struct migration {
        struct vmwp_vm *vm;
        const struct vmwp_migrate_options *o;
        struct sender s;
        uint64_t *dirty;
        size_t words;
        struct mdisk disks[VM_DISKS_MAX];
        size_t n_disks;
        struct mmem mems[MIG_DEVMEM_MAX];
        size_t n_mems;
        uint8_t *dbuf; /* one disk chunk, aligned for O_DIRECT */
        uint64_t disk_bytes;
        uint64_t t0;
        void (*progress)(void *opaque, const struct vmwp_migrate_progress *p);
        void *opaque;
        struct vmwp_migrate_progress last;
};

/* Chunk c of a disk as a DISK record; an all-zero one as DISK_ZERO, or not
 * at all in the first pass (the destination's image is new: zeros). */
static int send_disk_chunk(struct migration *m, struct mdisk *md, uint64_t c, bool first) {
        uint64_t off = c * DISK_TRACK_CHUNK;
        if (off >= md->size)
                return 0;
        size_t len = (size_t)MIN(md->size - off, (uint64_t)DISK_TRACK_CHUNK);
        int r = disk_read_sync(md->d, off, m->dbuf, len);
        if (r < 0)
                return r;
        uint8_t hdr[MIG_RECORD_HEADER];
        if (all_zero(m->dbuf, len)) {
                if (first)
                        return 0;
                mig_record_encode_index(hdr, MIG_DISK_ZERO, md->index, off, len, 0);
                return send_all(&m->s, hdr, sizeof hdr);
        }
        mig_record_encode_index(hdr, MIG_DISK, md->index, off, len, vmstate_crc32c(0, m->dbuf, len));
        if ((r = send_all(&m->s, hdr, sizeof hdr)) < 0 || (r = send_all(&m->s, m->dbuf, len)) < 0)
                return r;
        m->disk_bytes += len;
        return 0;
}

/* The first pass sends every chunk that is not zero; the later ones the
 * chunks written since (md->dirty, cleared as they go). *sent: bytes of
 * the disks read and sent. */
static int pass_disks(struct migration *m, bool first, uint64_t *sent, char *err, size_t errlen) {
        uint64_t before = m->disk_bytes;
        for (size_t i = 0; i < m->n_disks; i++) {
                struct mdisk *md = &m->disks[i];
                int r = 0;
                if (first) {
                        for (uint64_t c = 0; r >= 0 && c * DISK_TRACK_CHUNK < md->size; c++)
                                r = send_disk_chunk(m, md, c, true);
                } else {
                        for (size_t w = 0; r >= 0 && w < md->words; w++)
                                for (; r >= 0 && md->dirty[w]; md->dirty[w] &= md->dirty[w] - 1)
                                        r = send_disk_chunk(m, md, (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(md->dirty[w]),
                                                            false);
                }
                if (r < 0)
                        return errorf(err, errlen, r, "disks[%u]: copying it: %s", md->index, strerror(-r));
        }
        if (sent)
                *sent = m->disk_bytes - before;
        return 0;
}

/* The chunks written since the last look, into each disk's md->dirty:
 * their bytes. */
static uint64_t take_disk_marks(struct migration *m) {
        uint64_t bytes = 0;
        for (size_t i = 0; i < m->n_disks; i++) {
                struct mdisk *md = &m->disks[i];
                disk_track_take(md->d, md->dirty);
                for (size_t w = 0; w < md->words; w++)
                        bytes += (uint64_t)__builtin_popcountll(md->dirty[w]) * DISK_TRACK_CHUNK;
        }
        return bytes;
}

/* copy_disks: every writable disk of the VM, tracked from here on. */
static int track_disks(struct migration *m, char *err, size_t errlen) {
        struct vmwp_vm *vm = m->vm;
        for (uint32_t i = 0; i < vm->cfg.n_disks && i < VM_DISKS_MAX; i++) {
                struct disk_info info;
                if (!vm->disks[i])
                        continue;
                disk_get_info(vm->disks[i], &info);
                if (info.read_only)
                        continue; /* an ISO, a shared base: the destination has its own */
                struct mdisk *md = &m->disks[m->n_disks];
                *md = (struct mdisk){ .d = vm->disks[i], .index = i, .size = info.size,
                                      .words = disk_track_words(vm->disks[i]) };
                md->dirty = calloc(md->words, sizeof *md->dirty);
                int r = md->dirty ? disk_track_start(md->d) : -ENOMEM;
                if (r < 0) {
                        free(md->dirty);
                        return errorf(err, errlen, r, "disks[%u]: tracking its writes: %s", i, strerror(-r));
                }
                m->n_disks++;
        }
        return 0;
}

static void untrack_disks(struct migration *m) {
        for (size_t i = 0; i < m->n_disks; i++) {
                disk_track_stop(m->disks[i].d);
                free(m->disks[i].dirty);
        }
        m->n_disks = 0;
}

/* The VM's device memories, each with its bitmaps. */
static int find_memories(struct migration *m, char *err, size_t errlen) {
        for (unsigned i = 0;; i++) {
                size_t len;
                int fd;
                const uint8_t *host = vmwp_devices_memory(&m->vm->devices, i, &len, &fd);
                if (!host)
                        return 0;
                if (i == MIG_DEVMEM_MAX || len > MIG_DEVMEM_BYTES || !len || len % PAGE)
                        return errorf(err, errlen, -EOPNOTSUPP,
                                      "device memory %u (%zu bytes) does not fit the stream (at most %u of %llu MiB)", i,
                                      len, MIG_DEVMEM_MAX, (unsigned long long)(MIG_DEVMEM_BYTES >> 20));
                size_t words = DIV_ROUND_UP(len / PAGE, 64);
                struct mmem *mm = &m->mems[m->n_mems++];
                *mm = (struct mmem){ .host = host, .len = len, .fd = fd, .dirty = calloc(words, 8),
                                     .more = calloc(words, 8) };
                if (!mm->dirty || !mm->more)
                        return errorf(err, errlen, -ENOMEM, "device memory %u: no memory for its dirty bitmaps", i);
        }
}

static void free_memories(struct migration *m) {
        for (size_t i = 0; i < m->n_mems; i++)
                free(m->mems[i].dirty), free(m->mems[i].more);
        m->n_mems = 0;
}

struct memory_extent {
        struct migration *m;
        uint32_t i;
};

static int send_memory_extent(void *opaque, uint64_t data, uint64_t hole) {
        struct memory_extent *e = opaque;
        const struct mmem *mm = &e->m->mems[e->i];
        int r = 0;
        for (uint64_t off = ALIGN_DOWN(data, PAGE); r >= 0 && off < MIN(ALIGN_UP(hole, PAGE), (uint64_t)mm->len);
             off += PAGE)
                r = send_page(&e->m->s, e->i + 1, mm->host, off);
        return r;
}

/* The first pass of a device memory with a memfd: its data extents (its
 * holes are zeros on the destination too, whose memory is new; reading
 * them would fill them). */
static int pass_memory_extents(struct migration *m, uint32_t i) {
        return fd_for_each_data(m->mems[i].fd, m->mems[i].len, send_memory_extent,
                                &(struct memory_extent){ .m = m, .i = i });
}

/* The first pass sends all of each device memory (its zero pages as
 * DEVMEM_ZERO runs, its memfd's holes not at all), the later ones the
 * pages written since (mm->dirty). */
static int pass_memories(struct migration *m, bool first) {
        int r = 0;
        for (uint32_t i = 0; r >= 0 && i < m->n_mems; i++) {
                const struct mmem *mm = &m->mems[i];
                size_t pages = mm->len / PAGE;
                if (first && mm->fd >= 0) {
                        r = pass_memory_extents(m, i);
                        continue;
                }
                for (size_t w = 0; r >= 0 && w < DIV_ROUND_UP(pages, 64); w++)
                        for (uint64_t bits = first ? ~0ull : mm->dirty[w]; r >= 0 && bits; bits &= bits - 1) {
                                uint64_t page = (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits);
                                if (page < pages)
                                        r = send_page(&m->s, i + 1, mm->host, page * PAGE);
                        }
        }
        return r;
}

/* The device memories' pages written since the last look: into
 * mm->dirty, or (merge: the switch-over's look) added to what is there;
 * *pages, how many are dirty now. */
static int take_memory_marks(struct migration *m, bool merge, uint64_t *pages) {
        *pages = 0;
        for (size_t i = 0; i < m->n_mems; i++) {
                struct mmem *mm = &m->mems[i];
                size_t words = DIV_ROUND_UP(mm->len / PAGE, 64);
                int r = vid_devmem_dirty_get(m->vm->p, mm->host, mm->len, merge ? mm->more : mm->dirty);
                if (r < 0)
                        return r;
                for (size_t w = 0; w < words; w++) {
                        if (merge)
                                mm->dirty[w] |= mm->more[w];
                        *pages += (uint64_t)__builtin_popcountll(mm->dirty[w]);
                }
        }
        return 0;
}

static int pass_all(struct migration *m) {
        struct vid_ram_extent *ext = NULL;
        size_t n = 0;
        int r = vid_ram_extents(m->vm->p, &ext, &n);
        const uint8_t *ram = vid_ram_host(m->vm->p);
        for (size_t i = 0; r >= 0 && i < n; i++)
                for (uint64_t off = ext[i].offset; r >= 0 && off < ext[i].offset + ext[i].length; off += PAGE)
                        r = send_page(&m->s, 0, ram, off);
        free(ext);
        return r;
}

static int pass_dirty(struct migration *m) {
        const uint8_t *ram = vid_ram_host(m->vm->p);
        int r = 0;
        for (size_t w = 0; r >= 0 && w < m->words; w++)
                for (uint64_t bits = m->dirty[w]; r >= 0 && bits; bits &= bits - 1)
                        r = send_page(&m->s, 0, ram, ((uint64_t)w * 64 + (uint64_t)__builtin_ctzll(bits)) * PAGE);
        return r;
}

static uint64_t count_dirty(const uint64_t *b, size_t words) {
        uint64_t n = 0;
        for (size_t i = 0; i < words; i++)
                n += (uint64_t)__builtin_popcountll(b[i]);
        return n;
}

/* Auto-converge after a pass that left the estimate above the budget. */
static void throttle(struct migration *m, uint64_t prev_expect_ns, uint64_t expect_ns, uint64_t budget_ns) {
        uint32_t pct = vid_partition_throttle(m->vm->p);
        uint32_t next = vmwp_migrate_throttle_next(pct, prev_expect_ns, expect_ns, budget_ns);
        if (next != pct)
                (void)vid_partition_set_throttle(m->vm->p, next); /* 20..99: in range */
}

static const char *throttle_note(uint32_t pct, bool auto_converge) {
        static _Thread_local char note[96];
        if (!auto_converge)
                return " (auto-converge off)";
        if (!pct)
                return "";
        snprintf(note, sizeof note, ", with the vCPUs throttled (auto-converge: parked %u %% of the time)", pct);
        return note;
}

/* Pre-copy until the rest fits the budget: 0 (ready to switch over, the
 * pages still dirty in m->dirty), 1 (it cannot, and post-copy is allowed:
 * switch over with those pages left to fetch) or an error. */
static int precopy(struct migration *m, struct vmwp_migrate_result *res, char *err, size_t errlen) {
        uint64_t budget_ns = (uint64_t)m->o->max_downtime_ms * 1000000u, prev_expect_ns = 0;
        for (uint32_t pass = 1;; pass++) {
                uint64_t start = vmwp_now_ns(), bytes0 = m->s.bytes;
                /* The disks first: their first pass is the long one. */
                int r = pass_disks(m, pass == 1, NULL, err, errlen);
                if (r < 0)
                        return r;
                r = pass == 1 ? pass_all(m) : pass_dirty(m);
                if (r >= 0)
                        r = pass_memories(m, pass == 1);
                if (r >= 0 && (r = flush(&m->s)) >= 0)
                        r = send_record(&m->s, MIG_PASS, pass, 0, NULL);
                if (r < 0)
                        return errorf(err, errlen, r, "pass %u: sending to the destination: %s", pass, strerror(-r));
                uint64_t devmem_dirty;
                if ((r = vid_dirty_log_get(m->vm->p, m->dirty, m->words)) < 0 ||
                    (r = take_memory_marks(m, false, &devmem_dirty)) < 0)
                        return errorf(err, errlen, r, "reading the dirty log: %s", strerror(-r));
                uint64_t disk_dirty = take_disk_marks(m);
                uint64_t ns = MAX(vmwp_now_ns() - start, 1000u), sent = m->s.bytes - bytes0;
                uint64_t dirty = count_dirty(m->dirty, m->words);
                /* Below a few MB a pass is too short to measure a link by:
                 * assume at least 1 GB/s (a loopback socket does 3-10). */
                uint64_t bw = MAX(sent * 1000000000u / ns, 1000000000u);
                struct vmwp_migrate_progress *p = &m->last;
                *p = (struct vmwp_migrate_progress){
                        .pass = pass, .bytes_sent = m->s.bytes, .dirty_pages = dirty,
                        .dirty_rate = dirty * 1000000000u / ns, .bandwidth = sent * 1000000000u / ns,
                        .dirty_disk_bytes = disk_dirty,
                };
                uint64_t expect_ns =
                        SWITCH_OVERHEAD_NS + ((dirty + devmem_dirty) * (PAGE + 16) + disk_dirty) * 1000000000u / bw;
                p->expected_downtime_ms = DIV_ROUND_UP(expect_ns, 1000000u);
                res->passes = pass;
                if (expect_ns > budget_ns && m->o->auto_converge)
                        throttle(m, prev_expect_ns, expect_ns, budget_ns);
                prev_expect_ns = expect_ns;
                p->throttle_pct = vid_partition_throttle(m->vm->p);
                if (m->progress)
                        m->progress(m->opaque, p);
                if (expect_ns <= budget_ns)
                        return 0;
                uint64_t elapsed_ms = (vmwp_now_ns() - m->t0) / 1000000u;
                if ((pass >= m->o->max_passes || elapsed_ms >= m->o->max_time_ms) && m->o->postcopy) {
                        log_info("migration: no convergence after %u passes in %llu ms (%llu ms of downtime "
                                 "expected, the budget is %u ms): post-copy with %llu pages to fetch",
                                 pass, (unsigned long long)elapsed_ms, (unsigned long long)p->expected_downtime_ms,
                                 m->o->max_downtime_ms, (unsigned long long)dirty);
                        return 1;
                }
                if (pass >= m->o->max_passes || elapsed_ms >= m->o->max_time_ms)
                        return errorf(err, errlen, -ETIMEDOUT,
                                      "did not converge: after %u passes in %llu ms, %llu pages%s are dirty (the guest "
                                      "dirties %llu pages/s, the link carries %llu MB/s): %llu ms of downtime "
                                      "expected, the budget is %u ms%s",
                                      pass, (unsigned long long)elapsed_ms, (unsigned long long)dirty,
                                      disk_dirty ? " and disk chunks" : "",
                                      (unsigned long long)p->dirty_rate, (unsigned long long)(p->bandwidth / 1000000u),
                                      (unsigned long long)p->expected_downtime_ms, m->o->max_downtime_ms,
                                      throttle_note(p->throttle_pct, m->o->auto_converge));
        }
}

/* The server's reports as the op's progress events. */
static void postcopy_progress(void *opaque, uint64_t left, const struct postcopy_stats *st, bool committed) {
        struct migration *m = opaque;
        struct vmwp_migrate_progress p = m->last;
        p.pass++;
        p.postcopy = true;
        p.committed = committed;
        p.bytes_sent = m->s.bytes + st->bytes;
        p.dirty_pages = left;
        p.dirty_rate = 0;
        p.expected_downtime_ms = 0;
        p.throttle_pct = 0;
        if (m->progress)
                m->progress(m->opaque, &p);
}

/* The destination runs the guest; this copy only serves its pages from
 * now on, for as long as that takes: the image locks go now, for the
 * destination's vmms to take (vmms/migration/lock-handover.c), not when this worker
 * ends. */
static void postcopy_running(void *opaque) {
        struct migration *m = opaque;
        unsigned n = vmwp_vm_release_image_locks(m->vm);
        if (n)
                log_info("post-copy: the destination runs; the image lock%s of %u disk%s released", n > 1 ? "s" : "",
                         n, n > 1 ? "s" : "");
}

/* Post-copy's switch-over, the VM paused and its last disk chunks sent:
 * the bitmap of the pages still dirty, the final state without them, then
 * serving them until the destination has every one. */
static int switch_over_postcopy(struct migration *m, struct vmwp_migrate_result *res, char *err, size_t errlen) {
        struct vid_partition *p = m->vm->p;
        uint64_t *none = calloc(m->words, sizeof *none);
        if (!none)
                return -ENOMEM;
        int r = postcopy_send_bitmap(m->s.fd, m->dirty, vid_ram_size(p), m->s.timeout_ms, err, errlen);
        if (r >= 0 && (r = send_record(&m->s, MIG_STATE, 0, 0, NULL)) < 0)
                errorf(err, errlen, r, "sending to the destination: %s", strerror(-r));
        struct vmstate_writer *w = NULL;
        if (r >= 0 && (r = vmstate_writer_new(m->s.fd, 0, &w)) >= 0 &&
            (r = vmwp_devices_save_live(&m->vm->devices, w, err, errlen)) >= 0 &&
            (r = vid_state_save_pages(p, w, none)) < 0)
                errorf(err, errlen, r, "the vCPUs' state: %s", strerror(-r));
        if (r >= 0 && (r = vmstate_finish(w)) < 0)
                errorf(err, errlen, r, "the end section: %s", strerror(-r));
        m->s.bytes += vmstate_written(w);
        vmstate_writer_free(w);
        free(none);
        if (r < 0)
                return r;
        res->postcopy = true;
        struct postcopy_stats st;
        struct postcopy_serve_hooks hooks = { .progress = postcopy_progress, .running = postcopy_running, .opaque = m };
        r = postcopy_serve(m->s.fd, vid_ram_host(p), vid_ram_size(p), m->dirty, m->s.timeout_ms, &hooks,
                           &res->committed, &st, err, errlen);
        m->s.bytes += st.bytes;
        res->postcopy_pages = st.missing_pages;
        res->postcopy_requested = st.requested_pages;
        res->postcopy_requests = st.requests;
        res->postcopy_ns = st.total_ns;
        res->running_at_ns = st.running_at_ns;
        return r;
}

/* Paused: the final state after a STATE record, then the commit. */
static int switch_over(struct migration *m, bool postcopy, struct vmwp_migrate_result *res, char *err,
                       size_t errlen) {
        uint64_t t0 = vmwp_now_ns();
        uint64_t *more = calloc(m->words, sizeof *more);
        if (!more)
                return -ENOMEM;
        /* What the vCPUs and the devices' quiesce wrote since the last look. */
        int r = vid_dirty_log_get(m->vm->p, more, m->words);
        for (size_t i = 0; r >= 0 && i < m->words; i++)
                m->dirty[i] |= more[i];
        free(more);
        if (r < 0)
                return errorf(err, errlen, r, "reading the dirty log: %s", strerror(-r));
        res->final_pages = count_dirty(m->dirty, m->words);
        /* The guest's last writes: the quiesce drained the disks' queues. */
        take_disk_marks(m);
        if ((r = pass_disks(m, false, &res->final_disk_bytes, err, errlen)) < 0)
                return r;
        /* And the device memories' (a VRAM the guest drew into). */
        uint64_t devmem_pages, devmem0 = m->s.devmem_bytes;
        if ((r = take_memory_marks(m, true, &devmem_pages)) < 0)
                return errorf(err, errlen, r, "reading the device memories' dirty log: %s", strerror(-r));
        if ((r = pass_memories(m, false)) < 0 || (r = flush(&m->s)) < 0)
                return errorf(err, errlen, r, "sending to the destination: %s", strerror(-r));
        res->final_devmem_bytes = m->s.devmem_bytes - devmem0;
        /* Nothing left to fetch (the budget was below the switch-over's
         * own cost): an ordinary switch-over. */
        if (postcopy && res->final_pages) {
                res->final_pages = 0;
                return switch_over_postcopy(m, res, err, errlen);
        }
        if ((r = send_record(&m->s, MIG_STATE, 0, 0, NULL)) < 0)
                return errorf(err, errlen, r, "sending to the destination: %s", strerror(-r));
        struct vmstate_writer *w = NULL;
        r = vmstate_writer_new(m->s.fd, 0, &w);
        if (r >= 0)
                r = vmwp_devices_save_live(&m->vm->devices, w, err, errlen);
        if (r >= 0 && (r = vid_state_save_pages(m->vm->p, w, m->dirty)) < 0)
                errorf(err, errlen, r, "the vCPUs and the last pages: %s", strerror(-r));
        if (r >= 0 && (r = vmstate_finish(w)) < 0)
                errorf(err, errlen, r, "the end section: %s", strerror(-r));
        m->s.bytes += vmstate_written(w);
        vmstate_writer_free(w);
        if (r < 0)
                return errorf(err, errlen, r, "sending the final state: %s", err);
        uint64_t t_sent = vmwp_now_ns();
        res->state_ns = t_sent - t0;
        /* READY, COMMIT, RUNNING: from the COMMIT on, this copy never
         * resumes on its own (res->committed). */
        r = mig_commit_source(m->s.fd, (int)m->o->peer_timeout_ms, &res->committed, err, errlen);
        res->commit_ns = vmwp_now_ns() - t_sent;
        return r;
}

static int handshake(struct migration *m, char *err, size_t errlen) {
        struct mig_hello h;
        uint8_t buf[MIG_HELLO_MAX];
        vmwp_vm_migrate_hello(m->vm, &h);
        h.flags = (m->o->copy_disks ? MIG_HELLO_COPY_DISKS : 0) | (m->o->postcopy ? MIG_HELLO_POSTCOPY : 0);
        int n = mig_hello_encode(&h, buf, sizeof buf);
        if (n < 0)
                return errorf(err, errlen, n, "this VM's shape does not fit a hello");
        int r = send_all(&m->s, buf, (size_t)n);
        if (r < 0)
                return errorf(err, errlen, r, "sending the hello: %s", strerror(-r));
        struct mig_record rec;
        char why[MIG_TEXT_MAX + 1] = "";
        r = mig_recv_record(m->s.fd, (int)m->o->peer_timeout_ms, false, &rec, why, sizeof why);
        if (r < 0)
                return errorf(err, errlen, r, "the destination's answer to the hello: %s",
                              r == -EINVAL ? why : r == -ECONNRESET ? "it closed the stream" : strerror(-r));
        if (rec.type == MIG_REFUSE)
                return errorf(err, errlen, -ECONNREFUSED, "the destination refused: %s", why);
        if (rec.type != MIG_ACCEPT)
                return errorf(err, errlen, -EPROTO, "the destination answered the hello with record type %u",
                              rec.type);
        return 0;
}

/* A guest that powered off or reset, or a vCPU that failed, while the VM
 * moved ends the move at whatever step noticed first: its slots gone
 * ("reading the dirty log: No such file or directory"), a pause refused,
 * a destination's answer waited for. What the operator needs is the stop
 * and its reason, which the worker reports as it exits. */
static int stopped_meanwhile(struct vmwp_vm *vm, int r, char *err, size_t errlen) {
        char reason[200] = "";
        if (vid_partition_stop_requested(vm->p, reason, sizeof reason) < 0)
                return r;
        return errorf(err, errlen, -ESHUTDOWN, "the VM stopped during the migration: %s",
                      reason[0] ? reason : "its partition was stopped");
}

int vmwp_vm_migrate_send(struct vmwp_vm *vm, int fd, const struct vmwp_migrate_options *o,
                         void (*progress)(void *opaque, const struct vmwp_migrate_progress *p), void *opaque,
                         struct vmwp_migrate_result *res, char *err, size_t errlen) {
        int type = 0;
        socklen_t tl = sizeof type;
        *res = (struct vmwp_migrate_result){ 0 };
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
                return errorf(err, errlen, -ENOTSOCK, "the migration fd is not a connected stream socket");
        if (vmwp_vm_is_paused(vm))
                return errorf(err, errlen, -EBUSY, "the VM is paused: live migration moves a running VM");
        struct migration m = { .vm = vm, .o = o, .t0 = vmwp_now_ns(), .progress = progress, .opaque = opaque,
                               .s = { .fd = fd, .timeout_ms = (int)o->peer_timeout_ms } };
        m.words = vid_dirty_bitmap_words(vm->p);
        m.dirty = calloc(m.words, sizeof *m.dirty);
        m.s.buf = malloc(MIG_RECORD_HEADER + MIG_PAGES_MAX);
        if (o->copy_disks && posix_memalign((void **)&m.dbuf, 4096, DISK_TRACK_CHUNK) != 0)
                m.dbuf = NULL;
        if (!m.dirty || !m.s.buf || (o->copy_disks && !m.dbuf)) {
                free(m.dirty), free(m.s.buf), free(m.dbuf);
                return -ENOMEM;
        }
        /* Bounds the final state's writes (the writer blocks) as poll
         * bounds ours: a destination that stops reading fails the move. */
        struct timeval tv = { .tv_sec = o->peer_timeout_ms / 1000, .tv_usec = o->peer_timeout_ms % 1000 * 1000 };
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        bool tracking = false, paused = false;
        int r = handshake(&m, err, errlen);
        if (r >= 0)
                r = find_memories(&m, err, errlen);
        if (r >= 0 && o->copy_disks)
                r = track_disks(&m, err, errlen);
        if (r >= 0) {
                r = vid_dirty_log_start(vm->p);
                tracking = r >= 0;
                if (r < 0)
                        errorf(err, errlen, r, "starting dirty-page tracking: %s",
                               r == -EALREADY ? "a migration is under way" : strerror(-r));
        }
        uint64_t throttled0 = vid_partition_throttled_ns(vm->p);
        bool postcopy = false;
        if (r >= 0 && (r = precopy(&m, res, err, errlen)) == 1)
                postcopy = true, r = 0;
        uint64_t t_pause = 0;
        if (r >= 0) {
                t_pause = res->paused_at_ns = vmwp_now_ns();
                r = vmwp_vm_pause(vm);
                res->pause_ns = vmwp_now_ns() - t_pause;
                paused = r >= 0;
                if (r < 0)
                        errorf(err, errlen, r, "pausing the VM: %s", vmwp_pause_strerror(r));
        }
        /* Every way on from here (the switch-over, after the pause; a
         * failure or a cancel, which resume or keep running the VM) wants
         * the vCPUs at full speed again: auto-converge ends here. */
        res->throttle_pct = vid_partition_throttle(vm->p);
        (void)vid_partition_set_throttle(vm->p, 0);
        res->throttled_ns = vid_partition_throttled_ns(vm->p) - throttled0;
        if (r >= 0)
                r = switch_over(&m, postcopy, res, err, errlen);
        if (r < 0 && !res->committed)
                r = stopped_meanwhile(vm, r, err, errlen);
        uint64_t t_end = vmwp_now_ns();
        if (r < 0 && !res->committed && r != -ECONNRESET && r != -EPIPE) { /* tell a destination still listening */
                char why[MIG_TEXT_MAX];
                size_t n = strnlen(err, sizeof why - 1);
                memcpy(why, err, n);
                (void)send_record(&m.s, MIG_ABORT, 0, n, why);
        }
        if (tracking)
                (void)vid_dirty_log_stop(vm->p);
        untrack_disks(&m);
        free_memories(&m);
        if (r < 0 && paused && !res->committed)
                (void)vmwp_vm_resume(vm);
        res->bytes = m.s.bytes;
        res->pages = m.s.n_pages, res->zero_pages = m.s.n_zero;
        res->disk_bytes = m.disk_bytes;
        res->devmem_bytes = m.s.devmem_bytes;
        res->total_ns = t_end - m.t0;
        /* Post-copy: the guest ran again at the destination's RUNNING, long
         * before the last page went. */
        uint64_t t_run = res->postcopy && res->running_at_ns ? res->running_at_ns : t_end;
        res->downtime_ns = t_pause ? t_run - t_pause : 0;
        free(m.dirty), free(m.s.buf), free(m.dbuf);
        return r < 0 ? r : 0;
}
