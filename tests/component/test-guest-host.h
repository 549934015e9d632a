/* SPDX-License-Identifier: MIT */
/* A minimal host for the built-in test guest on vid + /dev/kvm, shared by
 * the tests/component/test-guest-*.c programs: PVH load of vsc-guest.elf
 * (PT_LOAD segments, the Xen entry note, hvm_start_info with a memory map
 * and command line), a 16550 that records the output, the ACPI PM1a and PM
 * timer ports (S5 stops the VM), the marker port, and hooks to add more
 * (hvshim and the VMBus server in test-guest-vmbus.c). Not a loader for
 * anything else: vmwp is the real one. */
#pragma once

#include <elf.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "common/fd-util.h"
#include "common/proto.h"
#include "common/test.h"
#include "hv/vmstack.h"
#include "vid/vid.h"

#define RAM (64u << 20)
#define START_INFO_GPA 0x6000u
#define MEMMAP_GPA 0x6100u
#define CMDLINE_GPA 0x7000u
#define OUT_MAX 16384

struct guest_host {
        struct vid_partition *p;
        pthread_mutex_t lock;
        char out[OUT_MAX];
        size_t n_out;
        uint8_t lcr;
        bool live;
        unsigned markers[4];
        struct timespec t0;
};

static void uart_read(void *o, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        memset(data, 0, len);
        if (off == 5)
                *(uint8_t *)data = 0x60; /* LSR: transmitter empty */
}

static void uart_write(void *o, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        struct guest_host *h = o;
        uint8_t v = *(const uint8_t *)data;
        pthread_mutex_lock(&h->lock);
        if (off == 3)
                h->lcr = v;
        else if (off == 0 && !(h->lcr & 0x80) && h->n_out < OUT_MAX - 1) {
                h->out[h->n_out++] = (char)v;
                if (h->live)
                        fputc(v, stderr); /* VM_GUEST_CONSOLE=1: follow the guest as it runs */
        }
        pthread_mutex_unlock(&h->lock);
}

static const struct vid_io_ops uart_ops = { .read = uart_read, .write = uart_write };

/* 0x600..0x60b: PM1a event (ignored), PM1a control (S5 stops), PM timer. */
static void pm_read(void *o, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        struct guest_host *h = o;
        struct timespec t;
        memset(data, 0, len);
        if (off != 8 || len != 4)
                return;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t ns = (uint64_t)(t.tv_sec - h->t0.tv_sec) * 1000000000ull + (uint64_t)t.tv_nsec;
        uint32_t ticks = (uint32_t)((unsigned __int128)ns * 3579545 / 1000000000) & 0xffffff;
        memcpy(data, &ticks, 4);
}

static void pm_write(void *o, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        struct guest_host *h = o;
        uint16_t v = 0;
        memcpy(&v, data, len < 2 ? len : 2);
        if (off == 4 && (v & (1u << 13)) && ((v >> 10) & 7) == VMSTACK_SLP_TYP_S5)
                vid_partition_request_stop(h->p, VMWP_EXIT_POWEROFF, "ACPI S5");
}

static const struct vid_io_ops pm_ops = { .read = pm_read, .write = pm_write };

static void misc_write(void *o, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        struct guest_host *h = o;
        uint8_t v = *(const uint8_t *)data;
        if (off == 0 && v < 4) /* VMSTACK_MARKER_PORT */
                h->markers[v]++;
}

static void nop_read(void *o, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        memset(data, 0xff, len);
}

static void nop_write(void *o, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
}

static const struct vid_io_ops marker_ops = { .read = nop_read, .write = misc_write };
static const struct vid_io_ops nop_ops = { .read = nop_read, .write = nop_write };

static int on_exit_cb(void *opaque, struct vid_vp *vp, const struct vid_exit *e) {
        return e->kind == VID_EXIT_SHUTDOWN ? VMWP_EXIT_TRIPLE_FAULT : VMWP_EXIT_INTERNAL;
}

/* PT_LOAD segments into RAM; returns the PVH entry from the Xen note. */
static uint32_t load_elf(struct vid_partition *p, const char *path) {
        char *img;
        size_t len;
        uint32_t entry = 0;
        ASSERT_OK(read_file(path, 16u << 20, &img, &len));
        Elf64_Ehdr eh;
        ASSERT_GE(len, sizeof eh);
        memcpy(&eh, img, sizeof eh);
        ASSERT_EQ(eh.e_machine, EM_X86_64);
        for (unsigned i = 0; i < eh.e_phnum; i++) {
                Elf64_Phdr ph;
                ASSERT_LE(eh.e_phoff + (i + 1) * sizeof ph, len);
                memcpy(&ph, img + eh.e_phoff + i * sizeof ph, sizeof ph);
                ASSERT_LE(ph.p_offset + ph.p_filesz, len);
                if (ph.p_type == PT_LOAD)
                        ASSERT_OK(gm_write(p, ph.p_paddr, img + ph.p_offset, ph.p_filesz));
                if (ph.p_type == PT_NOTE && ph.p_filesz >= 24) {
                        Elf64_Nhdr nh;
                        memcpy(&nh, img + ph.p_offset, sizeof nh);
                        if (nh.n_type == 18 && nh.n_namesz == 4 && !memcmp(img + ph.p_offset + 12, "Xen", 4))
                                memcpy(&entry, img + ph.p_offset + 16, 4);
                }
        }
        free(img);
        ASSERT_NE(entry, 0u);
        return entry;
}

static void write_start_info(struct vid_partition *p, const char *cmdline) {
        uint64_t memmap[2][3] = { { 0, 0x9fc00, 1 }, { 0x100000, RAM - 0x100000, 1 } };
        uint32_t si[14] = { 0x336ec578, 1, 0, 0 };
        uint64_t v;
        v = CMDLINE_GPA;
        memcpy(&si[6], &v, 8); /* cmdline_paddr @24 */
        v = MEMMAP_GPA;
        memcpy(&si[10], &v, 8); /* memmap_paddr @40 */
        si[12] = 2;             /* memmap_entries */
        ASSERT_OK(gm_write(p, START_INFO_GPA, si, sizeof si));
        ASSERT_OK(gm_write(p, MEMMAP_GPA, memmap, sizeof memmap));
        ASSERT_OK(gm_write(p, CMDLINE_GPA, cmdline, strlen(cmdline) + 1));
}

struct guest_host_hooks {
        /* after the partition and our devices exist, before it starts */
        void (*setup)(struct guest_host *h, void *opaque);
        /* after the VPs stopped, before the partition is destroyed */
        void (*teardown)(struct guest_host *h, void *opaque);
        /* optional: an fd to watch while the guest runs, and what to do */
        int (*poll_fd)(void *opaque);
        void (*on_poll)(void *opaque);
        void *opaque;
};

/* A run powers off within seconds (2-3 s on PVM, about 1 s on the emulated
 * AMD-V host). One that does not is stopped after GUEST_HOST_WAIT_S of wall
 * time, well inside ctest's 300 s, so that its output so far and its vCPU's
 * place are printed: a run there hung once (2026-12-02), and ctest's kill at
 * 300 s kept nothing of it. */
#define GUEST_HOST_WAIT_S 90
static void guest_host_wait(struct guest_host *h, const struct guest_host_hooks *hooks) {
        struct pollfd pfd[2] = { { .fd = vid_partition_stop_fd(h->p), .events = POLLIN } };
        int n = 1;
        if (hooks && hooks->poll_fd) {
                pfd[1] = (struct pollfd){ .fd = hooks->poll_fd(hooks->opaque), .events = POLLIN };
                n = 2;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        time_t end = now.tv_sec + GUEST_HOST_WAIT_S;
        do {
                if (poll(pfd, (nfds_t)n, 100) > 0 && (pfd[0].revents & POLLIN))
                        return;
                if (n == 2 && (pfd[1].revents & POLLIN))
                        hooks->on_poll(hooks->opaque);
                clock_gettime(CLOCK_MONOTONIC, &now);
        } while (now.tv_sec < end);
        vid_partition_request_stop(h->p, VMWP_EXIT_STOPPED, "the guest did not power off within %d s",
                                   GUEST_HOST_WAIT_S);
}

/* Boots vsc-guest.elf with cmdline; returns the stop status (0 = S5).
 * The guest's output is in h->out (NUL-terminated) and on stdout. */
static int guest_host_run(struct guest_host *h, const char *cmdline, const struct guest_host_hooks *hooks) {
        struct vid_partition_config cfg = { .ram_bytes = RAM, .n_vps = 1 };
        char err[256], elf[1024];
        const char *build = getenv("VM_BUILD_DIR");
        snprintf(elf, sizeof elf, "%s/guest-vsc/guest/vsc-guest.elf", build ? build : "build/debug");
        memset(h, 0, sizeof *h);
        pthread_mutex_init(&h->lock, NULL);
        h->live = getenv("VM_GUEST_CONSOLE") != NULL;
        clock_gettime(CLOCK_MONOTONIC, &h->t0);
        int r = vid_partition_create(&cfg, &h->p, err, sizeof err);
        if (r < 0)
                TEST_SKIP("vid_partition_create: %s", err);
        ASSERT_OK(vid_register_pio(h->p, 0x3f8, 8, &uart_ops, h));
        ASSERT_OK(vid_register_pio(h->p, VMSTACK_PM1A_EVT_PORT, 12, &pm_ops, h));
        ASSERT_OK(vid_register_pio(h->p, VMSTACK_MARKER_PORT, 1, &marker_ops, h));
        ASSERT_OK(vid_register_pio(h->p, 0x80, 1, &nop_ops, h)); /* the probe's plain exit */
        if (hooks && hooks->setup)
                hooks->setup(h, hooks->opaque);
        uint32_t entry = load_elf(h->p, elf);
        write_start_info(h->p, cmdline);
        struct vid_vp *vp = vid_partition_vp(h->p, 0);
        ASSERT_OK(vid_vp_set_protected_mode_flat(vp));
        struct vid_regs regs = { .rip = entry, .rbx = START_INFO_GPA, .rflags = 2 };
        ASSERT_OK(vid_vp_set_regs(vp, &regs));
        ASSERT_OK(vid_partition_start(h->p, on_exit_cb, h));
        guest_host_wait(h, hooks);
        int status = vid_partition_stop_requested(h->p, err, sizeof err);
        vid_partition_join(h->p);
        struct vid_regs at;
        if (status != VMWP_EXIT_POWEROFF && vid_vp_get_regs(vp, &at) == 0)
                fprintf(stderr, "vCPU 0 stopped at rip 0x%llx rsp 0x%llx rflags 0x%llx\n", (unsigned long long)at.rip,
                        (unsigned long long)at.rsp, (unsigned long long)at.rflags);
        if (hooks && hooks->teardown)
                hooks->teardown(h, hooks->opaque);
        vid_partition_destroy(h->p);
        h->out[h->n_out] = '\0';
        fwrite(h->out, 1, h->n_out, stdout);
        if (status != VMWP_EXIT_POWEROFF)
                fprintf(stderr, "guest stopped with status %d: %s\n", status, err);
        return status;
}
