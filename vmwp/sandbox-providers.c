// SPDX-License-Identifier: MIT
/* The seccomp policies of the providers vmwp links (docs/sandbox.md). They
 * live here rather than in vsp/: the policy types are the worker's, and the
 * worker decides what its threads may do. A provider's channel threads start
 * on VP threads (ops->open) and inherit the "vcpu" filter, which every
 * registered policy joins (sandbox_register_policy). When a provider starts
 * using a new system call on its run-time path, it is added here; the
 * SIGSYS line names it. */
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include "common/macro.h"
#include "vmwp/sandbox.h"
#include "vmwp/sandbox-providers.h"

/* storvsp (vsp/storvsp): OPENCHANNEL (a VP thread) sets up the channel's
 * io_uring and its eventfd and the channel's device worker (an epoll set
 * and a kick eventfd, common/devworker.h) with the doorbell and those
 * eventfds in it; the worker thread waits in epoll_wait, registers the disk
 * files (and guest RAM when configured), submits and reaps, and tears the
 * ring down itself when it ends (unregistering the files); discard of a
 * block device is a BLKDISCARD ioctl, of a file fallocate(PUNCH_HOLE). An
 * image's flock goes with its last close(); only a disk an io_uring still
 * holds is unlocked with flock(LOCK_UN), which is why the main thread,
 * which frees the devices at exit, needs no flock. */
static const struct sandbox_rule storvsp_rules[] = {
        SANDBOX_ALLOW(__NR_io_uring_setup), SANDBOX_ALLOW(__NR_io_uring_enter),
        SANDBOX_ALLOW(__NR_io_uring_register), SANDBOX_ALLOW(__NR_fallocate), SANDBOX_ALLOW(__NR_fdatasync),
        SANDBOX_ALLOW(__NR_fsync), SANDBOX_IOCTL(BLKDISCARD), SANDBOX_ALLOW_ARG(__NR_flock, 1, LOCK_UN),
        SANDBOX_ALLOW(__NR_eventfd2), SANDBOX_ALLOW(__NR_epoll_create1), SANDBOX_ALLOW(__NR_epoll_ctl),
        SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait),
        SANDBOX_ALLOW(__NR_pwrite64), SANDBOX_ALLOW(__NR_ftruncate),
};

const struct sandbox_policy sandbox_storvsp_policy = {
        .name = "storvsp", .rules = storvsp_rules, .n_rules = ARRAY_SIZE(storvsp_rules),
};

/* The emulated devices' service thread (emu/service.h, vmwp/vm-emu.c),
 * narrowed to this once the sandbox is entered: a device worker
 * (common/devworker.h) sleeping in epoll_wait on its kick eventfd, the IDE
 * disk queue's io_uring eventfd, the RTC's timerfd and the keyboard
 * socket, whose client it adds to and removes from its epoll set
 * (epoll_ctl); submits and reaps IDE I/O (registering a disk with the
 * ring on first use); raises IRQ 14/15/8/1 (KVM_IRQ_LINE); re-arms the RTC
 * timer; accepts and reads keyboard clients; at exit drains the ring and
 * drops the disks, releasing their image locks. VHDX disks: as storvsp
 * (ftruncate to allocate, pwrite and fdatasync for their metadata). */
static const struct sandbox_rule emu_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_epoll_ctl),
        SANDBOX_ALLOW(__NR_io_uring_enter),
        SANDBOX_ALLOW(__NR_io_uring_register), SANDBOX_IOCTL(KVM_IRQ_LINE), SANDBOX_ALLOW(__NR_timerfd_settime),
        SANDBOX_ALLOW(__NR_accept4), SANDBOX_ALLOW_ARG(__NR_flock, 1, LOCK_UN),
        SANDBOX_ALLOW(__NR_pwrite64), SANDBOX_ALLOW(__NR_ftruncate), SANDBOX_ALLOW(__NR_fdatasync),
};

const struct sandbox_policy sandbox_emu_policy = {
        .name = "emu", .rules = emu_rules, .n_rules = ARRAY_SIZE(emu_rules),
};

/* hv_sock's device worker (vsp/hvsock, vmwp/vm-hvsock.c), started once
 * the sandbox is in place and narrowed to this first thing: epoll over the
 * host sockets and the channels' doorbells (each its own duplicate, fcntl
 * F_DUPFD_CLOEXEC), its deadline timer (timerfd_settime), send/recv on the
 * sockets (sendto/recvfrom), shutdown(SHUT_WR) for the guest's FIN, fcntl
 * O_NONBLOCK on a socket vmms sent. It also adds and removes connections'
 * VMBus devices: the offers and rescinds it posts raise the SINT (an irqfd
 * write, KVM_SIGNAL_MSI without one; a full queue re-arms the server's
 * timer), and closing an open channel drops its doorbell (KVM_IOEVENTFD). */
static const struct sandbox_rule hvsock_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_epoll_ctl),
        SANDBOX_ALLOW(__NR_sendto),     SANDBOX_ALLOW(__NR_recvfrom),    SANDBOX_ALLOW(__NR_shutdown),
        SANDBOX_ALLOW(__NR_fcntl),      SANDBOX_ALLOW(__NR_timerfd_settime), SANDBOX_IOCTL(KVM_SIGNAL_MSI),
        SANDBOX_IOCTL(KVM_IOEVENTFD),
};

const struct sandbox_policy sandbox_hvsock_policy = {
        .name = "hvsock", .rules = hvsock_rules, .n_rules = ARRAY_SIZE(hvsock_rules),
};

/* Dynamic Memory's device thread (vsp/dm, vmwp/vm-dm.c): started before
 * the sandbox, so under the process filter; besides the device worker's
 * epoll and the ring's signals (irqfd writes) it punches the pages the
 * guest balloons out of the RAM memfd (fallocate PUNCH_HOLE). */
static const struct sandbox_rule dm_rules[] = {
        SANDBOX_ALLOW(__NR_fallocate), SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait),
        SANDBOX_ALLOW(__NR_epoll_ctl), SANDBOX_IOCTL(KVM_SIGNAL_MSI),
};

const struct sandbox_policy sandbox_dm_policy = {
        .name = "dm", .rules = dm_rules, .n_rules = ARRAY_SIZE(dm_rules),
};

/* The synthetic video's device thread (vsp/video, vmwp/vm-display.c):
 * started before the sandbox, so under the process filter; besides the
 * device worker's epoll and the ring's signals it maps the guest's VRAM
 * where the guest put it, as a KVM memory slot of its own, and removes the
 * former one (KVM_SET_USER_MEMORY_REGION; a restore does the same on the
 * vCPU launcher thread, which the registered policies join, and punches
 * the VRAM's chunks its saved state leaves out: fallocate PUNCH_HOLE |
 * KEEP_SIZE, which a VM without disks or Dynamic Memory has from no
 * other policy). The
 * keyboard and mouse thread (vsp/input) needs no more than that epoll and
 * those signals. */
static const struct sandbox_rule video_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_epoll_ctl),
        SANDBOX_IOCTL(KVM_SIGNAL_MSI), SANDBOX_IOCTL(KVM_SET_USER_MEMORY_REGION),
        SANDBOX_ALLOW_ARG(__NR_fallocate, 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
};

const struct sandbox_policy sandbox_video_policy = {
        .name = "video", .rules = video_rules, .n_rules = ARRAY_SIZE(video_rules),
};

/* The display thread (vmwp/display-server.c), started under the sandbox
 * and narrowed to this first thing: epoll over the display socket, its
 * one client and an eventfd the devices write; it accepts the client,
 * sends it messages (the VRAM's descriptor with SCM_RIGHTS: sendmsg) and
 * receives its input (recvfrom), and closes it. Telling the guest to
 * start or stop reporting its dirt is a message on the video channel
 * from this thread: the guest's interrupt is an irqfd write, or
 * KVM_SIGNAL_MSI without one. */
static const struct sandbox_rule display_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_epoll_ctl),
        SANDBOX_ALLOW(__NR_accept4),    SANDBOX_ALLOW(__NR_sendmsg),     SANDBOX_ALLOW(__NR_sendto),
        SANDBOX_ALLOW(__NR_recvfrom),   SANDBOX_IOCTL(KVM_SIGNAL_MSI),
};

const struct sandbox_policy sandbox_display_policy = {
        .name = "display", .rules = display_rules, .n_rules = ARRAY_SIZE(display_rules),
};
