// SPDX-License-Identifier: MIT
/* The built-in seccomp policies of the worker (docs/sandbox.md has the
 * rationale for every group). A call that is in none of the lists a thread
 * has loaded raises SIGSYS and ends the worker with VMWP_EXIT_SANDBOX.
 *
 * <linux/kvm.h> is included here although nothing above vid should need
 * it: the filter restricts ioctl by request number, and these are the
 * numbers vid issues after start (vid/vp.c, irq.c, pvm.c). When vid gains
 * an ioctl on its run-time path, it must be added here (the SIGSYS line
 * names the call; the component tests exercise every exit path). */
#include <asm/ioctls.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "common/macro.h"
#include "sandbox-internal.h"

/* pthread_create's clone(2): a thread sharing everything, never a new
 * process or namespace (fork/vfork are not allowed at all). */
#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

/* Every thread: memory, futexes, signals, time, exit, the SIGSYS path and
 * loading a narrower filter. Paths fail with EACCES instead of raising
 * SIGSYS: the root is empty anyway, and a library that looks for a file
 * lazily (glibc, the sanitizer runtimes) must not take the VM down. */
static const struct sandbox_rule base_rules[] = {
        SANDBOX_ALLOW(__NR_read), SANDBOX_ALLOW(__NR_write), SANDBOX_ALLOW(__NR_pread64), SANDBOX_ALLOW(__NR_readv),
        SANDBOX_ALLOW(__NR_writev), SANDBOX_ALLOW(__NR_close), SANDBOX_ALLOW(__NR_fstat),
        SANDBOX_ALLOW(__NR_newfstatat), SANDBOX_ALLOW(__NR_mmap), SANDBOX_ALLOW(__NR_munmap),
        SANDBOX_ALLOW(__NR_mprotect), SANDBOX_ALLOW(__NR_madvise), SANDBOX_ALLOW(__NR_mremap),
        SANDBOX_ALLOW(__NR_brk), SANDBOX_ALLOW(__NR_futex), SANDBOX_ALLOW(__NR_rt_sigprocmask),
        SANDBOX_ALLOW(__NR_rt_sigreturn), SANDBOX_ALLOW(__NR_sigaltstack), SANDBOX_ALLOW(__NR_exit),
        SANDBOX_ALLOW(__NR_exit_group), SANDBOX_ALLOW(__NR_gettid), SANDBOX_ALLOW(__NR_getpid),
        SANDBOX_ALLOW(__NR_clock_gettime), SANDBOX_ALLOW(__NR_clock_getres), SANDBOX_ALLOW(__NR_gettimeofday),
        SANDBOX_ALLOW(__NR_clock_nanosleep), SANDBOX_ALLOW(__NR_nanosleep), SANDBOX_ALLOW(__NR_sched_yield),
        SANDBOX_ALLOW(__NR_sched_getaffinity), SANDBOX_ALLOW(__NR_getrandom), SANDBOX_ALLOW(__NR_restart_syscall),
        SANDBOX_ALLOW(__NR_set_robust_list), SANDBOX_ALLOW(__NR_rseq),
        /* Signals only to our own threads (vid's kick, raise()). */
        { .nr = __NR_tgkill, .n_cmp = 1,
          .cmp = { { .arg = 0, .op = SANDBOX_CMP_MASKED_EQ, .kind = SANDBOX_VALUE_SELF_PID, .mask = 0xffffffffu } } },
        SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_SET_NAME), SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_GET_NAME),
        /* libseccomp, when a thread narrows its filter. */
        SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_SET_NO_NEW_PRIVS), SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_GET_NO_NEW_PRIVS),
        SANDBOX_ALLOW_ARG(__NR_seccomp, 0, SECCOMP_SET_MODE_FILTER),
        SANDBOX_ALLOW_ARG(__NR_seccomp, 0, SECCOMP_GET_ACTION_AVAIL),
        SANDBOX_ALLOW_ARG(__NR_seccomp, 0, SECCOMP_GET_NOTIF_SIZES),
        SANDBOX_ERRNO(__NR_open, EACCES), SANDBOX_ERRNO(__NR_openat, EACCES), SANDBOX_ERRNO(__NR_stat, EACCES),
        SANDBOX_ERRNO(__NR_lstat, EACCES), SANDBOX_ERRNO(__NR_statx, EACCES), SANDBOX_ERRNO(__NR_access, EACCES),
        SANDBOX_ERRNO(__NR_faccessat, EACCES), SANDBOX_ERRNO(__NR_faccessat2, EACCES),
        SANDBOX_ERRNO(__NR_readlink, EACCES), SANDBOX_ERRNO(__NR_readlinkat, EACCES),
        SANDBOX_ERRNO(__NR_unlink, EACCES), SANDBOX_ERRNO(__NR_unlinkat, EACCES),
        /* glibc falls back to clone(2), whose flags the filter can see. */
        SANDBOX_ERRNO(__NR_clone3, ENOSYS), SANDBOX_ERRNO(__NR_openat2, ENOSYS),
};

/* The main thread: the event loop (control socket, re-attach listener,
 * console, signalfd, timers), control requests (pause kicks the VPs, the
 * power button raises the SCI) and the teardown after the VPs stopped
 * (hvshim deassigns its irqfds and ioeventfds, the console restores the
 * terminal). */
static const struct sandbox_rule main_rules[] = {
        SANDBOX_ALLOW(__NR_epoll_wait), SANDBOX_ALLOW(__NR_epoll_pwait), SANDBOX_ALLOW(__NR_epoll_ctl),
        SANDBOX_ALLOW(__NR_recvmsg), SANDBOX_ALLOW(__NR_sendmsg), SANDBOX_ALLOW(__NR_sendto),
        SANDBOX_ALLOW(__NR_accept4), SANDBOX_ALLOW(__NR_getsockopt), SANDBOX_ALLOW(__NR_timerfd_create),
        SANDBOX_ALLOW(__NR_timerfd_settime), SANDBOX_ALLOW(__NR_poll), SANDBOX_ALLOW(__NR_ppoll),
        SANDBOX_ALLOW_ARG(__NR_fcntl, 1, F_GETFL), SANDBOX_ALLOW_ARG(__NR_fcntl, 1, F_SETFL),
        SANDBOX_ALLOW_ARG(__NR_fcntl, 1, F_GETFD), SANDBOX_ALLOW_ARG(__NR_fcntl, 1, F_SETFD),
        SANDBOX_IOCTL(TCGETS), SANDBOX_IOCTL(TCSETS), SANDBOX_IOCTL(TCSETSW), SANDBOX_IOCTL(TCSETSF),
        SANDBOX_IOCTL(KVM_IRQ_LINE), SANDBOX_IOCTL(KVM_SIGNAL_MSI), SANDBOX_IOCTL(KVM_IRQFD),
        SANDBOX_IOCTL(KVM_IOEVENTFD), SANDBOX_IOCTL(KVM_SET_GSI_ROUTING),
        /* SIGUSR1's vCPU sample reads the parked VPs' registers (run.c). */
        SANDBOX_IOCTL(KVM_GET_REGS), SANDBOX_IOCTL(KVM_GET_SREGS),
        /* A save (vm-state.c) reads the parked VPs' and the partition's
         * state (vid/state.c: reads only; every set ioctl of a restore runs
         * before the sandbox), finds guest RAM's data extents with
         * lseek(SEEK_DATA/SEEK_HOLE) on the memfd and syncs the state file. */
        SANDBOX_IOCTL(KVM_GET_MSRS), SANDBOX_IOCTL(KVM_GET_VCPU_EVENTS), SANDBOX_IOCTL(KVM_GET_XSAVE),
        SANDBOX_IOCTL(KVM_GET_XSAVE2), SANDBOX_IOCTL(KVM_GET_XCRS), SANDBOX_IOCTL(KVM_GET_LAPIC),
        SANDBOX_IOCTL(KVM_GET_MP_STATE), SANDBOX_IOCTL(KVM_GET_DEBUGREGS), SANDBOX_IOCTL(KVM_GET_IRQCHIP),
        SANDBOX_IOCTL(KVM_GET_CLOCK), SANDBOX_IOCTL(KVM_GET_MSR_INDEX_LIST), SANDBOX_IOCTL(KVM_CHECK_EXTENSION),
        /* A firmware-booted VM's in-kernel PIT (vid/pit-state.c). */
        SANDBOX_IOCTL(KVM_GET_PIT2),
        SANDBOX_ALLOW(__NR_lseek), SANDBOX_ALLOW(__NR_fdatasync),
        /* The quiesce of a save or migration, and the teardown, write a
         * VHDX disk's metadata (its BAT through the log, the header). */
        SANDBOX_ALLOW(__NR_pwrite64),
        /* A live migration's source (migrate.c): dirty tracking toggles
         * the RAM slots' KVM_MEM_LOG_DIRTY_PAGES and reads the log; the
         * stream's send timeout. */
        SANDBOX_IOCTL(KVM_GET_DIRTY_LOG), SANDBOX_IOCTL(KVM_SET_USER_MEMORY_REGION),
        SANDBOX_ALLOW_ARG(__NR_setsockopt, 1, SOL_SOCKET),
        /* A post-copy destination (postcopy.c): its pager, a thread made
         * before the sandbox and so under the process filter, places pages
         * and wakes their waiters; the main thread unregisters the RAM when
         * the VM goes, and shuts the pager's socket to the source down so
         * that a send waiting on it fails (postcopy_dest_free). The
         * userfaultfd itself exists before the sandbox. */
        SANDBOX_IOCTL(UFFDIO_COPY), SANDBOX_IOCTL(UFFDIO_ZEROPAGE), SANDBOX_IOCTL(UFFDIO_WAKE),
        SANDBOX_IOCTL(UFFDIO_UNREGISTER), SANDBOX_ALLOW_ARG(__NR_shutdown, 1, SHUT_RDWR),
        /* Merging a running disk into its parent (vm-storage.c,
         * docs/checkpoints.md): the parent's lock goes from shared on the
         * read-only description to exclusive on the writable one (and back
         * when the merge is abandoned); its blocks are allocated by
         * ftruncate like a channel thread's. */
        SANDBOX_ALLOW_ARG(__NR_flock, 1, LOCK_UN), SANDBOX_ALLOW_ARG(__NR_flock, 1, LOCK_EX | LOCK_NB),
        SANDBOX_ALLOW_ARG(__NR_flock, 1, LOCK_SH | LOCK_NB), SANDBOX_ALLOW(__NR_ftruncate),
        /* Disks and NICs of a running VM (vm-storage-hotplug.c, vm-net.c,
         * docs/vmwp.md "Disks and NICs of a running VM"): opening a disk
         * locks it (above), probes hole punching past its end (fallocate
         * PUNCH_HOLE | KEEP_SIZE, which changes nothing) and a block
         * device's size and logical block size (also for a resize); a new
         * SCSI controller has its hot-plug eventfd; an adopted TAP is
         * configured (flags, vnet header, offloads, queues) and its link
         * watched over rtnetlink: a netlink socket, bound, subscribed to
         * link events (SOL_NETLINK), named. */
        SANDBOX_ALLOW_ARG(__NR_fallocate, 1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE),
        SANDBOX_IOCTL(BLKGETSIZE64), SANDBOX_IOCTL(BLKSSZGET), SANDBOX_ALLOW(__NR_eventfd2),
        SANDBOX_IOCTL(TUNGETIFF), SANDBOX_IOCTL(TUNSETVNETHDRSZ), SANDBOX_IOCTL(TUNSETOFFLOAD),
        SANDBOX_IOCTL(TUNSETQUEUE), SANDBOX_ALLOW_ARG(__NR_socket, 0, AF_NETLINK), SANDBOX_ALLOW(__NR_bind),
        SANDBOX_ALLOW(__NR_getsockname), SANDBOX_ALLOW_ARG(__NR_setsockopt, 1, SOL_NETLINK),
};

/* vCPU threads: KVM_RUN and what an exit needs: registers, MSRs, event
 * injection, translation (exit reasons), interrupts (the UART, the SCI,
 * SynIC routes and irqfds), ioeventfds (doorbells), the PVM trampoline's
 * memory slot, console output (a socket client), eventfds for SINTs.
 * Also what starting them takes, since they are created on a thread that
 * holds this policy: clone for threads only, vid's SIGRTMIN kick handler. */
static const struct sandbox_rule vcpu_rules[] = {
        SANDBOX_IOCTL(KVM_RUN), SANDBOX_IOCTL(KVM_GET_REGS), SANDBOX_IOCTL(KVM_SET_REGS),
        SANDBOX_IOCTL(KVM_GET_SREGS), SANDBOX_IOCTL(KVM_SET_SREGS), SANDBOX_IOCTL(KVM_GET_MSRS),
        SANDBOX_IOCTL(KVM_SET_MSRS), SANDBOX_IOCTL(KVM_GET_VCPU_EVENTS), SANDBOX_IOCTL(KVM_SET_VCPU_EVENTS),
        SANDBOX_IOCTL(KVM_TRANSLATE), SANDBOX_IOCTL(KVM_GET_DEVICE_ATTR), SANDBOX_IOCTL(KVM_HAS_DEVICE_ATTR),
        SANDBOX_IOCTL(KVM_IRQ_LINE), SANDBOX_IOCTL(KVM_SIGNAL_MSI), SANDBOX_IOCTL(KVM_SET_GSI_ROUTING),
        SANDBOX_IOCTL(KVM_IRQFD), SANDBOX_IOCTL(KVM_IOEVENTFD), SANDBOX_IOCTL(KVM_SET_USER_MEMORY_REGION),
        SANDBOX_IOCTL(KVM_X86_SET_MSR_FILTER),
        SANDBOX_ALLOW(__NR_eventfd2), SANDBOX_ALLOW_ARG(__NR_fcntl, 1, F_DUPFD_CLOEXEC), SANDBOX_ALLOW(__NR_sendto),
        /* The VMBus server on VP threads: its retry timer (server.c), and
         * the providers' device workers created here in OPENCHANNEL (an
         * epoll set with the doorbell in it) that wait in epoll_wait;
         * provider threads started here that wait in poll(). */
        SANDBOX_ALLOW(__NR_timerfd_settime), SANDBOX_ALLOW(__NR_poll), SANDBOX_ALLOW(__NR_ppoll),
        SANDBOX_ALLOW(__NR_epoll_create1), SANDBOX_ALLOW(__NR_epoll_ctl), SANDBOX_ALLOW(__NR_epoll_wait),
        SANDBOX_ALLOW(__NR_epoll_pwait),
        { .nr = __NR_clone, .n_cmp = 1,
          .cmp = { { .arg = 0, .op = SANDBOX_CMP_MASKED_EQ, .mask = THREAD_FLAGS | NS_FLAGS, .value = THREAD_FLAGS } } },
        /* A throttled VP's own timer (vid/throttle.c, a migration's
         * auto-converge): monotonic, signalling its thread only. */
        SANDBOX_ALLOW_ARG(__NR_timer_create, 0, CLOCK_MONOTONIC), SANDBOX_ALLOW(__NR_timer_settime),
        SANDBOX_ALLOW(__NR_timer_delete),
        { .nr = __NR_rt_sigaction, .n_cmp = 1,
          .cmp = { { .arg = 0, .op = SANDBOX_CMP_MASKED_EQ, .kind = SANDBOX_VALUE_SIGRTMIN, .mask = 0xffffffffu } } },
};

/* Sanitizer builds only (docs/sandbox.md, "Sanitizer builds"): at exit
 * LeakSanitizer stops the world with a tracer task (a clone sharing our
 * memory, not a thread) that ptraces every thread it lists in
 * /proc/self/task, and reads /proc/self/maps. Loaded before "base" so that
 * its openat wins over base's EACCES. */
static const struct sandbox_rule sanitizer_rules[] = {
#if SANDBOX_SANITIZER
        SANDBOX_ALLOW(__NR_open), SANDBOX_ALLOW(__NR_openat), SANDBOX_ALLOW(__NR_getdents), SANDBOX_ALLOW(__NR_getdents64),
        SANDBOX_ALLOW(__NR_lseek),
        SANDBOX_ALLOW(__NR_ptrace), SANDBOX_ALLOW(__NR_wait4), SANDBOX_ALLOW(__NR_waitid),
        SANDBOX_ALLOW(__NR_rt_sigaction), SANDBOX_ALLOW(__NR_getppid), SANDBOX_ALLOW(__NR_kill),
        SANDBOX_ALLOW(__NR_tgkill), SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_GET_DUMPABLE),
        SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_SET_DUMPABLE), SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_SET_PTRACER),
        SANDBOX_ALLOW_ARG(__NR_prctl, 0, PR_SET_PDEATHSIG),
        { .nr = __NR_clone, .n_cmp = 1,
          .cmp = { { .arg = 0, .op = SANDBOX_CMP_MASKED_EQ, .mask = CLONE_VM | CLONE_THREAD | NS_FLAGS, .value = CLONE_VM } } },
#endif
};

const struct sandbox_policy sandbox_sanitizer_policy = {
        .name = "sanitizer", .rules = sanitizer_rules, .n_rules = ARRAY_SIZE(sanitizer_rules),
};

#define POLICY(n, r) { .name = (n), .rules = (r), .n_rules = ARRAY_SIZE(r) }
static const struct sandbox_policy builtin[] = {
        POLICY("base", base_rules),
        POLICY("main", main_rules),
        POLICY("vcpu", vcpu_rules),
};

const struct sandbox_policy *sandbox_builtin_policy(const char *name) {
        for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
                if (strcmp(builtin[i].name, name) == 0)
                        return &builtin[i];
        return NULL;
}
