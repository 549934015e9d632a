// SPDX-License-Identifier: MIT
/* Live migration, the destination (vmwp/migrate.h, docs/migration.md).
 *
 * A worker started with an incoming migration socket builds the VM from
 * its configuration as a restore does, then, before the sandbox, receives
 * the whole stream: the hello (checked against this VM: refused early when
 * RAM, vCPUs or devices differ), the pre-copied pages straight into guest
 * RAM, and the final saved state into a memfd, which the restore path then
 * indexes and applies like a state file (vid's sections now, the devices'
 * on the thread that starts the vCPUs). Once the vCPUs run, RUNNING goes
 * back to the source. Every record is checked (common/migstream.c, fuzzed)
 * before it is applied; a corrupt, truncated or hostile stream ends the
 * worker with a sentence and the guest never runs here. In a
 * shared-nothing migration the stream also carries the writable disks'
 * content (DISK, DISK_ZERO), written into this VM's new images, made
 * durable before the state is applied. Device memory (a VRAM) comes as
 * DEVMEM records, written into the device's mapping; the final state then
 * lacks that device's section. A source that switches to
 * post-copy sends the pages still missing as a bitmap (POSTCOPY) before
 * the state: their stale copies are dropped, and once the state is in,
 * the pager (postcopy.c) takes the stream over and fetches them on demand
 * while the devices restore and the guest runs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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
#include "vmwp/sandbox.h"
#include "vmwp/migrate.h"
#include "vmwp/postcopy.h"

/* The source streams without pause; this long without a byte, it is gone. */
#define RECV_TIMEOUT_MS 60000

void vmwp_vm_migrate_hello(const struct vmwp_vm *vm, struct mig_hello *h) {
        *h = (struct mig_hello){ .major = MIG_MAJOR, .minor = MIG_MINOR, .page_size = MIG_PAGE_SIZE,
                                 .ram_bytes = vid_ram_size(vm->p), .vcpus = vm->cfg.vcpus };
        size_t n = 0;
        for (size_t i = 0; i < vm->devices.n; i++) {
                int k = snprintf(h->shape + n, sizeof h->shape - n, "%s%s", i ? "," : "", vm->devices.rows[i].ops->name);
                if (k < 0 || (size_t)k >= sizeof h->shape - n)
                        break; /* the table is far shorter than MIG_SHAPE_MAX */
                n += (size_t)k;
        }
        h->shape_len = (uint32_t)n;
        /* What the guest was offered; a destination replaces it with what
         * its host supports (receive_hello). */
        (void)vid_cpuid_guest_features(vm->p, &h->cpu);
}

struct receiver {
        int fd;
        uint64_t bytes;
        uint8_t *buf; /* MIG_PAGES_MAX */
};

static int recv_all(struct receiver *rc, void *buf, size_t len) {
        uint8_t *b = buf;
        while (len > 0) {
                struct pollfd p = { .fd = rc->fd, .events = POLLIN };
                int r = poll(&p, 1, RECV_TIMEOUT_MS);
                if (r == 0)
                        return -ETIMEDOUT;
                if (r < 0 && errno != EINTR)
                        return -errno;
                ssize_t k = recv(rc->fd, b, len, MSG_DONTWAIT);
                if (k == 0)
                        return -ECONNRESET;
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (k > 0)
                        b += k, len -= (size_t)k, rc->bytes += (uint64_t)k;
        }
        return 0;
}

static int io_error(struct receiver *rc, int r, char *err, size_t errlen) {
        return errorf(err, errlen, r, "after %llu bytes: %s", (unsigned long long)rc->bytes,
                      r == -ECONNRESET  ? "the source closed the stream"
                      : r == -ETIMEDOUT ? "nothing from the source for 60 s"
                                        : strerror(-r));
}

static int send_to_source(int fd, uint32_t type, const char *text) {
        return mig_send_record(fd, type, text, RECV_TIMEOUT_MS);
}

static int receive_hello(struct vmwp_vm *vm, struct receiver *rc, char *err, size_t errlen) {
        uint8_t buf[MIG_HELLO_MAX];
        struct mig_hello src, mine;
        size_t have = MIG_HELLO_HEADER;
        int r = recv_all(rc, buf, have);
        if (r < 0)
                return io_error(rc, r, err, errlen);
        while ((r = mig_hello_parse(buf, have, &src, err, errlen)) == 0) {
                size_t need = mig_hello_size(buf);
                if (need <= have || need > sizeof buf)
                        return errorf(err, errlen, -EINVAL, "hello: a length of %zu bytes", need);
                if ((r = recv_all(rc, buf + have, need - have)) < 0)
                        return io_error(rc, r, err, errlen);
                have = need;
        }
        vmwp_vm_migrate_hello(vm, &mine);
        mine.flags = vm->incoming_disks ? MIG_HELLO_COPY_DISKS : 0;
        /* A source that may switch to post-copy needs userfaultfd here:
         * refused now, not at the switch. */
        if (r > 0 && src.flags & MIG_HELLO_POSTCOPY) {
                char why[256];
                if ((r = postcopy_dest_available(why, sizeof why)) < 0)
                        return errorf(err, errlen, r, "the source may switch to post-copy, which this host cannot "
                                      "take: %s", why);
                vm->incoming_postcopy = true;
                mine.flags |= MIG_HELLO_POSTCOPY;
        }
        /* Refused before a page moves when this host's CPU lacks a feature
         * the guest was offered (the restore checks the CPID section again). */
        if (r >= 0 && (r = vid_cpuid_host_features(vm->p, &mine.cpu)) < 0)
                return errorf(err, errlen, r, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
        if (r < 0 || (r = mig_hello_check(&src, &mine, err, errlen)) < 0)
                return r;
        /* The stream is parsed and the guest restored without paths or
         * privileges from here on, which leaves only the seccomp filter
         * for the downtime (docs/sandbox.md "Order"). Post-copy's
         * userfaultfd, made once the stream ends, still needs them. */
        char why[256];
        if (vm->sandbox && !vm->incoming_postcopy && (r = sandbox_drop(vm->sandbox, why, sizeof why)) < 0)
                return errorf(err, errlen, r, "sandbox: %s", why);
        (void)send_to_source(rc->fd, MIG_ACCEPT, NULL);
        return 0;
}

/* Socket -> memfd, n bytes, through the buffer. */
static int copy_to(struct receiver *rc, int out, uint64_t n, char *err, size_t errlen) {
        while (n > 0) {
                size_t k = (size_t)MIN(n, (uint64_t)MIG_PAGES_MAX);
                int r = recv_all(rc, rc->buf, k);
                if (r < 0)
                        return io_error(rc, r, err, errlen);
                for (size_t done = 0; done < k;) {
                        ssize_t w = write(out, rc->buf + done, k - done);
                        if (w < 0 && errno != EINTR)
                                return errorf(err, errlen, -errno, "buffering the final state: %s", strerror(errno));
                        if (w > 0)
                                done += (size_t)w;
                }
                n -= k;
        }
        return 0;
}

/* The saved state after STATE, framed by its section headers, into a new
 * memfd (*out) for the restore path to index. */
static int receive_state(struct vmwp_vm *vm, struct receiver *rc, int *out, char *err, size_t errlen) {
        _cleanup_close_ int fd = memfd_create("vmwp-migration-state", MFD_CLOEXEC);
        if (fd < 0)
                return errorf(err, errlen, -errno, "memfd_create: %s", strerror(errno));
        uint8_t hdr[VMSTATE_SECTION_HEADER_SIZE];
        int r = recv_all(rc, hdr, VMSTATE_HEADER_SIZE);
        if (r < 0)
                return io_error(rc, r, err, errlen);
        uint32_t header_size = vmstate_le32(hdr + 12);
        if (header_size < VMSTATE_HEADER_SIZE || header_size > 4096 || header_size % 8)
                return errorf(err, errlen, -EINVAL, "saved state: a header of %u bytes", header_size);
        if (write(fd, hdr, VMSTATE_HEADER_SIZE) != VMSTATE_HEADER_SIZE)
                return errorf(err, errlen, -EIO, "buffering the final state");
        if ((r = copy_to(rc, fd, header_size - VMSTATE_HEADER_SIZE, err, errlen)) < 0)
                return r;
        uint64_t total = header_size, max = mig_state_max(vid_ram_size(vm->p));
        for (bool end = false; !end;) {
                uint64_t span;
                if ((r = recv_all(rc, hdr, sizeof hdr)) < 0)
                        return io_error(rc, r, err, errlen);
                if ((r = mig_state_section_span(hdr, &span, &end, err, errlen)) < 0)
                        return r;
                if (span > max - MIN(total, max))
                        return errorf(err, errlen, -EINVAL, "saved state: over %llu MiB",
                                      (unsigned long long)(max >> 20));
                if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr)
                        return errorf(err, errlen, -EIO, "buffering the final state");
                if ((r = copy_to(rc, fd, span - sizeof hdr, err, errlen)) < 0)
                        return r;
                total += span;
        }
        *out = TAKE_FD(fd);
        return 0;
}

/* A DISK or DISK_ZERO record into the disk it names. */
static int write_disk(struct vmwp_vm *vm, const struct mig_record *rec, const uint8_t *data, char *err,
                      size_t errlen) {
        struct disk *d = rec->index < VM_DISKS_MAX && rec->index < vm->cfg.n_disks ? vm->disks[rec->index] : NULL;
        struct disk_info info = { 0 };
        if (d)
                disk_get_info(d, &info);
        if (!vm->incoming_disks)
                return errorf(err, errlen, -EPROTO, "a disk's content, but this destination uses shared storage");
        if (!d || info.read_only)
                return errorf(err, errlen, -EINVAL, "disks[%u]: %s", rec->index,
                              d ? "read-only here: its content is not copied" : "no such disk here");
        if (rec->addr % info.block_size || rec->length % info.block_size || rec->addr > info.size ||
            rec->length > info.size - rec->addr)
                return errorf(err, errlen, -EINVAL,
                              "disks[%u]: %llu bytes at offset %llu: outside its %llu bytes or not in %u-byte blocks",
                              rec->index, (unsigned long long)rec->length, (unsigned long long)rec->addr,
                              (unsigned long long)info.size, info.block_size);
        int r = rec->type == MIG_DISK ? disk_write_sync(d, rec->addr, data, (size_t)rec->length)
                                      : disk_zero_sync(d, rec->addr, rec->length);
        if (r < 0)
                return errorf(err, errlen, r, "disks[%u] (%s): writing it: %s", rec->index, vm->cfg.disks[rec->index].path,
                              strerror(-r));
        return 0;
}

/* A DEVMEM or DEVMEM_ZERO record into the device memory it names (a
 * VRAM: the rows with one, in table order; the hello's shape made them
 * the source's). */
static int write_devmem(struct vmwp_vm *vm, const struct mig_record *rec, const uint8_t *data, char *err,
                        size_t errlen) {
        size_t len;
        int fd;
        uint8_t *host = vmwp_devices_memory(&vm->devices, rec->index, &len, &fd);
        if (!host)
                return errorf(err, errlen, -EINVAL, "device memory %u: this VM has no such memory", rec->index);
        if (rec->addr > len || rec->length > len - rec->addr) /* parsed: no overflow */
                return errorf(err, errlen, -EINVAL, "device memory %u: %llu bytes at offset %llu: outside its %zu bytes",
                              rec->index, (unsigned long long)rec->length, (unsigned long long)rec->addr, len);
        if (rec->type == MIG_DEVMEM)
                memcpy(host + rec->addr, data, (size_t)rec->length);
        else
                fd_zero_range(fd, host, rec->addr, rec->length); /* a hole: zeros that take no memory */
        return 0;
}

/* The disks' content durable before the VM may run on it. */
static int flush_disks(struct vmwp_vm *vm, char *err, size_t errlen) {
        for (uint32_t i = 0; vm->incoming_disks && i < vm->cfg.n_disks && i < VM_DISKS_MAX; i++) {
                int r = vm->disks[i] ? disk_flush_sync(vm->disks[i]) : 0;
                if (r < 0)
                        return errorf(err, errlen, r, "disks[%u] (%s): flushing it: %s", i, vm->cfg.disks[i].path,
                                      strerror(-r));
        }
        return 0;
}

/* A POSTCOPY record: the pages it names go missing here (their copies
 * from earlier passes are stale), the pager made for them. */
static int mark_missing(struct vmwp_vm *vm, const struct mig_record *rec, const uint8_t *bitmap, char *err,
                        size_t errlen) {
        if (!vm->incoming_postcopy)
                return errorf(err, errlen, -EPROTO, "a post-copy bitmap, but the hello did not announce post-copy");
        int r = 0;
        if (!vm->postcopy) {
                int fd = fcntl(vm->migrate_fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return errorf(err, errlen, -errno, "%s", strerror(errno));
                /* The pager never stores through it: pages go in by
                 * UFFDIO_COPY, stale ones out by MADV_REMOVE. */
                r = postcopy_dest_new((uint8_t *)vid_ram_host(vm->p), vid_ram_size(vm->p), fd, 0, &vm->postcopy, err,
                                      errlen);
        }
        return r < 0 ? r : postcopy_dest_mark(vm->postcopy, rec->addr, rec->length, bitmap, err, errlen);
}

/* Records until STATE: pages into RAM; then the state's memfd in *state. */
static int receive_records(struct vmwp_vm *vm, struct receiver *rc, int *state, char *err, size_t errlen) {
        uint64_t ram = vid_ram_size(vm->p);
        for (;;) {
                uint8_t hdr[MIG_RECORD_HEADER];
                struct mig_record rec;
                int r = recv_all(rc, hdr, sizeof hdr);
                if (r < 0)
                        return io_error(rc, r, err, errlen);
                if ((r = mig_record_parse(hdr, ram, true, &rec, err, errlen)) < 0)
                        return r;
                uint64_t pl = mig_record_payload(&rec); /* <= MIG_PAGES_MAX: checked */
                if (pl && (r = recv_all(rc, rc->buf, (size_t)pl)) < 0)
                        return io_error(rc, r, err, errlen);
                if (pl && vmstate_crc32c(0, rc->buf, (size_t)pl) != rec.payload_crc)
                        return errorf(err, errlen, -EINVAL, "record type %u ending at byte %llu: payload CRC mismatch",
                                      rec.type, (unsigned long long)rc->bytes);
                if (vm->postcopy && (rec.type == MIG_PAGES || rec.type == MIG_ZERO))
                        return errorf(err, errlen, -EPROTO, "pages after the post-copy bitmap");
                switch (rec.type) {
                case MIG_POSTCOPY:
                        if ((r = mark_missing(vm, &rec, rc->buf, err, errlen)) < 0)
                                return r;
                        continue;
                case MIG_POSTCOPY_END:
                        return errorf(err, errlen, -EPROTO, "POSTCOPY_END before the state");
                case MIG_PAGES:
                        r = vid_ram_write(vm->p, rec.addr, rc->buf, rec.length);
                        break;
                case MIG_ZERO:
                        r = vid_ram_zero(vm->p, rec.addr, rec.length);
                        break;
                case MIG_DISK:
                case MIG_DISK_ZERO:
                        if ((r = write_disk(vm, &rec, rc->buf, err, errlen)) < 0)
                                return r;
                        continue;
                case MIG_DEVMEM:
                case MIG_DEVMEM_ZERO:
                        if ((r = write_devmem(vm, &rec, rc->buf, err, errlen)) < 0)
                                return r;
                        continue;
                case MIG_ABORT: {
                        char why[MIG_TEXT_MAX + 1];
                        mig_text(rc->buf, pl, why, sizeof why);
                        return errorf(err, errlen, -ECANCELED, "the source gave up: %s", why);
                }
                case MIG_STATE: /* the source is paused, its disks synced */
                        if ((r = flush_disks(vm, err, errlen)) < 0 || (r = vmwp_vm_activate_disks(vm, err, errlen)) < 0)
                                return r;
                        return receive_state(vm, rc, state, err, errlen);
                case MIG_COMMIT:
                        return errorf(err, errlen, -EPROTO, "COMMIT before the state");
                default: /* PASS */
                        break;
                }
                if (r < 0)
                        return errorf(err, errlen, r, "writing guest RAM: %s", strerror(-r));
        }
}

/* The pager cannot go on while pages are missing: whoever touches one
 * would wait forever (a vCPU, a device thread, KVM itself), so the worker
 * ends here, at once. Before the COMMIT the guest never ran here and the
 * source keeps it (status 3, as any refused migration); after it, its
 * memory is split between the hosts and lost (status 12). */
static void postcopy_fatal(void *opaque, const char *why, bool committed) {
        struct vmwp_vm *vm = opaque;
        uint64_t missing = vm->postcopy ? postcopy_dest_missing(vm->postcopy) : 0;
        if (committed)
                log_error("migration: %s: the guest ran here with %llu pages of its memory still at the source, "
                          "which it cannot run without; the VM is lost",
                          why, (unsigned long long)missing);
        else
                log_error("migration: %s; the VM stays with the source", why);
        _exit(committed ? VMWP_EXIT_INTERNAL : VMWP_EXIT_SETUP);
}

static void postcopy_guard(void *opaque, uint64_t offset, uint64_t len) {
        postcopy_dest_prefault(opaque, offset, len);
}

/* The state is in: from here the pager reads the stream and serves the
 * faults of the restore and of the guest. */
static int start_postcopy(struct vmwp_vm *vm, char *err, size_t errlen) {
        int r = postcopy_dest_start(vm->postcopy, postcopy_fatal, vm, err, errlen);
        if (r < 0)
                return r;
        vid_ram_set_guard(vm->p, postcopy_guard, vm->postcopy);
        log_info("migration: post-copy: %llu pages come from the source on demand",
                 (unsigned long long)postcopy_dest_missing(vm->postcopy));
        return 0;
}

bool vmwp_vm_postcopy_busy(struct vmwp_vm *vm) {
        return vm->postcopy && !postcopy_dest_ended(vm->postcopy);
}

void vmwp_vm_postcopy_free(struct vmwp_vm *vm) {
        if (!vm->postcopy)
                return;
        if (vm->p)
                vid_ram_set_guard(vm->p, NULL, NULL);
        postcopy_dest_free(vm->postcopy);
        vm->postcopy = NULL;
}

int vmwp_vm_migrate_receive(struct vmwp_vm *vm, int fd, char *err, size_t errlen) {
        char why[MIG_TEXT_MAX] = "";
        struct receiver rc = { .fd = fd };
        int state = -1, r = 0;
        vm->migrate_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (posix_memalign((void **)&rc.buf, 4096, MIG_PAGES_MAX) != 0) /* O_DIRECT disks write from it */
                rc.buf = NULL;
        if (vm->migrate_fd < 0 || !rc.buf)
                r = errorf(why, sizeof why, vm->migrate_fd < 0 ? -errno : -ENOMEM, "%s",
                           vm->migrate_fd < 0 ? strerror(errno) : "out of memory");
        if (r >= 0)
                r = receive_hello(vm, &rc, why, sizeof why);
        if (r >= 0)
                r = receive_records(vm, &rc, &state, why, sizeof why);
        free(rc.buf);
        if (r >= 0 && vm->postcopy)
                r = start_postcopy(vm, why, sizeof why);
        if (r >= 0) {
                r = vmwp_vm_restore_prepare(vm, state, why, sizeof why);
                safe_close(state); /* mapped by now, or refused */
                if (r < 0) /* "saved state: ..." already */
                        return (void)send_to_source(fd, MIG_REFUSE, why), errorf(err, errlen, r, "migration: %s", why);
        }
        if (r < 0) {
                (void)send_to_source(fd, MIG_REFUSE, why);
                return errorf(err, errlen, r, "migration: %s", why);
        }
        return 0;
}

int vmwp_vm_migrate_commit(struct vmwp_vm *vm, char *err, size_t errlen) {
        if (vm->migrate_fd < 0)
                return 0;
        /* Post-copy: the pager reads the stream; the COMMIT comes through it. */
        int r = vm->postcopy ? postcopy_dest_commit(vm->postcopy, RECV_TIMEOUT_MS, err, errlen)
                             : mig_commit_destination(vm->migrate_fd, RECV_TIMEOUT_MS, err, errlen);
        vm->migrate_fd = safe_close(vm->migrate_fd);
        return r;
}
