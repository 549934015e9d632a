// SPDX-License-Identifier: MIT
/* The pre-copy check (docs/vm-state.md, "Dirty pages"): the RAM half of a
 * live migration run against a side buffer in this process, to prove that
 * every writer of guest RAM (the vCPUs through KVM's dirty log, every
 * device through vid_mark_dirty) reports what it writes. With tracking on,
 * all of RAM is copied while the guest runs, then the dirty pages again,
 * round after round; then the VM pauses (vCPUs parked, every device
 * quiesced), the last dirty pages are copied, and the copy must equal RAM
 * byte for byte. A page that differs was written by someone who did not
 * mark it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "common/log.h"
#include "common/macro.h"
#include "vid/vid.h"
#include "vm-internal.h"

/* Guest RAM as one array, the numbering of the dirty bitmap: region 0,
 * then region 1, then the hot-add window (vid.h, "dirty pages"). */
struct ram_view {
        struct vid_ram_region r[3];
        uint8_t *host[3];
        uint64_t first_page[3];
        size_t n;
};

static int ram_view_init(struct vid_partition *p, struct ram_view *v) {
        v->n = vid_ram_regions(p, v->r);
        if (vid_ram_window(p, &v->r[v->n]) == 0)
                v->n++;
        uint64_t page = 0;
        for (size_t i = 0; i < v->n; i++) {
                int r = gm_map(p, v->r[i].gpa, v->r[i].size, (void **)&v->host[i]);
                if (r < 0)
                        return r;
                v->first_page[i] = page;
                page += v->r[i].size / VID_PAGE_SIZE;
        }
        return 0;
}

static uint8_t *page_host(const struct ram_view *v, uint64_t page, uint64_t *gpa) {
        size_t i = v->n - 1;
        while (i > 0 && page < v->first_page[i])
                i--;
        uint64_t off = (page - v->first_page[i]) * VID_PAGE_SIZE;
        *gpa = v->r[i].gpa + off;
        return v->host[i] + off;
}

/* Copies every page set in bitmap; returns how many. */
static uint64_t copy_dirty(const struct ram_view *v, const uint64_t *bitmap, size_t words, uint8_t *side) {
        uint64_t n = 0, gpa;
        for (size_t w = 0; w < words; w++)
                for (uint64_t bits = bitmap[w]; bits; bits &= bits - 1) {
                        uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(bits);
                        memcpy(side + page * VID_PAGE_SIZE, page_host(v, page, &gpa), VID_PAGE_SIZE);
                        n++;
                }
        return n;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int precopy(struct vmwp_vm *vm, const struct ram_view *v, uint8_t *side, uint64_t *bitmap, size_t words,
                   unsigned rounds, unsigned round_ms, struct vmwp_dirty_check *res, char *err, size_t errlen) {
        uint64_t pages = vid_ram_size(vm->p) / VID_PAGE_SIZE;
        int r = vid_dirty_log_get(vm->p, bitmap, words); /* start from a clean log */
        if (r < 0)
                return errorf(err, errlen, r, "reading the dirty log: %s", strerror(-r));
        for (uint64_t page = 0, gpa; page < pages; page++)
                memcpy(side + page * VID_PAGE_SIZE, page_host(v, page, &gpa), VID_PAGE_SIZE);
        for (unsigned i = 0; i < rounds; i++) {
                sleep_ms(round_ms);
                r = vid_dirty_log_get(vm->p, bitmap, words);
                if (r < 0)
                        return errorf(err, errlen, r, "reading the dirty log: %s", strerror(-r));
                res->copied += copy_dirty(v, bitmap, words, side);
        }
        r = vmwp_vm_pause(vm);
        if (r < 0)
                return errorf(err, errlen, r, "pausing the VM: %s", vmwp_pause_strerror(r));
        r = vid_dirty_log_get(vm->p, bitmap, words);
        if (r == 0) {
                res->last = copy_dirty(v, bitmap, words, side);
                for (uint64_t page = 0, gpa; page < pages; page++) {
                        if (memcmp(side + page * VID_PAGE_SIZE, page_host(v, page, &gpa), VID_PAGE_SIZE) == 0)
                                continue;
                        if (res->mismatched < ARRAY_SIZE(res->mismatch_gpa))
                                res->mismatch_gpa[res->mismatched] = gpa;
                        res->mismatched++;
                }
        } else {
                errorf(err, errlen, r, "reading the dirty log: %s", strerror(-r));
        }
        int rr = vmwp_vm_resume(vm);
        if (r == 0 && rr < 0)
                r = errorf(err, errlen, rr, "resuming the VM: %s", strerror(-rr));
        return r;
}

int vmwp_vm_dirty_check(struct vmwp_vm *vm, unsigned rounds, unsigned round_ms, struct vmwp_dirty_check *res,
                        char *err, size_t errlen) {
        *res = (struct vmwp_dirty_check){ .rounds = rounds, .ram_pages = vid_ram_size(vm->p) / VID_PAGE_SIZE };
        if (rounds < 1 || rounds > 1000 || round_ms < 1 || round_ms > 10000)
                return errorf(err, errlen, -EINVAL, "rounds must be 1-1000 and round_ms 1-10000");
        if (vmwp_vm_is_paused(vm))
                return errorf(err, errlen, -EBUSY, "dirty-check needs a running VM");
        struct ram_view v;
        int r = ram_view_init(vm->p, &v);
        if (r < 0)
                return errorf(err, errlen, r, "mapping guest RAM: %s", strerror(-r));
        size_t words = vid_dirty_bitmap_words(vm->p), side_len = vid_ram_size(vm->p);
        uint64_t *bitmap = calloc(words, sizeof *bitmap);
        uint8_t *side = mmap(NULL, side_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                             -1, 0);
        if (!bitmap || side == MAP_FAILED) {
                free(bitmap);
                if (side != MAP_FAILED)
                        munmap(side, side_len);
                return errorf(err, errlen, -ENOMEM, "no memory for a copy of guest RAM");
        }
        r = vid_dirty_log_start(vm->p);
        if (r < 0)
                errorf(err, errlen, r, "starting the dirty log: %s", strerror(-r));
        else {
                r = precopy(vm, &v, side, bitmap, words, rounds, round_ms, res, err, errlen);
                int rs = vid_dirty_log_stop(vm->p);
                if (r == 0 && rs < 0)
                        r = errorf(err, errlen, rs, "stopping the dirty log: %s", strerror(-rs));
        }
        munmap(side, side_len);
        free(bitmap);
        return r;
}
