/* SPDX-License-Identifier: MIT */
/* The host's resources a VM uses (docs/vmms.md "Host files"): files opened
 * as the VM's owner (files.c, paths.c's policy), its disks (disk-open.c),
 * its TAPs (tap.c), and what the host can run (hostcaps.c). Private to vmms/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "../core/daemon.h"
#include "vmms/disk-chain.h"

/* tap.c */
/* The default name of a TAP for a NIC added to a running VM: from index
 * on, the first no interface has (hotplug.c). 0, or -errno. */
int vmms_tap_free_name(const struct guid *id, unsigned index, char *ifname);
/* Opens (creating it unless it exists) the NIC's TAP with `queues` queue
 * fds (IFF_MULTI_QUEUE when more than one) into fds[]; returns how many
 * (one for a pre-created TAP that is not multi-queue) or -errno. With more
 * than one, *steer_fd is the RSS steering map of the program attached to
 * the TAP (common/rss-steer.h), or -1 where the kernel refused it (logged:
 * tun's flow table steers then). */
int vmms_tap_open(const struct vm_nic_config *nic, const struct guid *id, unsigned index, uint32_t queues, int *fds,
                  int *steer_fd, char *ifname, char *err, size_t errlen);

/* files.c: host files opened for a VM (docs/vmms.md "Host files") */
#define VMMS_CRED_GROUPS_MAX 256
struct vmms_cred {
        uid_t uid;
        gid_t gid;
        size_t n_groups;
        gid_t groups[VMMS_CRED_GROUPS_MAX];
};
/* Takes c's file-system identity (setfsuid/setfsgid and its groups; a root
 * caller, or a vmms that is not root, keeps vmms's) until leave: vmms is
 * single-threaded, so nothing else runs meanwhile. Call leave also after a
 * failed enter. */
struct vmms_fs_identity {
        bool switched;
        gid_t groups[64];
        int n_groups;
};
int vmms_identity_enter(const struct vmms_cred *c, struct vmms_fs_identity *s);
void vmms_identity_leave(struct vmms_fs_identity *s);
/* The identity of a user from the user database (a VM's owner at start). */
int vmms_cred_of_user(uid_t uid, struct vmms_cred *c);
/* The user database: uid -> name (-ENOENT, -ENAMETOOLONG), name -> uid. */
int vmms_user_name(uid_t uid, char *name, size_t len);
int vmms_user_uid(const char *name, uid_t *uid);
/* Opens a kernel, initrd or disk of a VM, as `as` would (see files.c);
 * the path must pass the policy. Returns the fd, or -errno with
 * "<path>: <reason>" in err: -EPERM/-EACCES for what the policy or the
 * file's permissions refuse, -EINVAL for the wrong kind of file. */
int vmms_file_open(const struct vmms_path_policy *p, const char *path, enum vmms_file_use use,
                   const struct vmms_cred *as, char *err, size_t errlen);
/* Creates a new disk image file for a VM (a checkpoint's differencing
 * child, a reflinked copy) as `as`: the path must pass the policy as a
 * writable disk; O_EXCL, mode 0600, owned by `as`. Returns the fd
 * (read-write) or -errno with "<path>: <reason>" in err. */
int vmms_file_create(const struct vmms_path_policy *p, const char *path, const struct vmms_cred *as, char *err,
                     size_t errlen);
/* CreateVM and Update: vmms_config_check_paths(), then every path that is
 * new (or newly writable) against cur is opened as `as` and closed again:
 * it exists, has the right kind and the caller may use it. */
int vmms_config_check_files(const struct vmms_path_policy *p, const struct vm_config *next,
                            const struct vm_config *cur, const struct vmms_cred *as, char *err, size_t errlen);
/* Opens a log vmms writes (appends, creating it 0640), reads, or rotates
 * (read-write, to copy and truncate it; -ENOENT if it does not exist): a
 * regular file, never through a symlink, never blocking on a FIFO. */
enum vmms_log_access { VMMS_LOG_READ, VMMS_LOG_APPEND, VMMS_LOG_ROTATE };
int vmms_log_open(const char *path, enum vmms_log_access how, char *err, size_t errlen);

/* pools.c: ListPoolImages, CreatePoolImage, DeletePoolImage (method
 * handlers of the Manager; docs/dbus-api.md "Storage pools") */
int vmms_pool_list(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e);
int vmms_pool_create(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e);
int vmms_pool_delete(struct vmms_daemon *d, sd_bus_message *m, sd_bus_error *e);

/* hostcaps.c */
int vmms_host_capabilities(struct vmms_daemon *d, sd_bus_message *reply);
uint64_t vmms_host_memory_mib(void);

/* disk-open.c: one disk of the VM (disks[i] is dc) opened for its worker
 * as Start opens it: the path policy and owner's rights, the mode
 * "read_only" says, flock()ed, a VHDX image's parents (nearest first).
 * -errno with "disks[i].path: ..." in err (-EBUSY: in use by another VM);
 * nothing stays open then. */
struct vmms_disk_fds {
        int fd;
        int parents[VHDX_CHAIN_MAX];
        size_t n_parents;
};
int vmms_disk_open(struct vmms_vm *vm, const struct vmms_cred *owner, const struct vm_disk_config *dc, uint32_t i,
                   struct vmms_disk_fds *out, char *err, size_t errlen);
/* A DVD drive's ISO (the configuration's `field`, "dvd_drives[i].path"),
 * opened as Start opens a read-only disk: the path policy, the owner's
 * rights, flock(LOCK_SH). The fd, or -errno with "<field>: ..." in err. */
int vmms_iso_open(struct vmms_vm *vm, const struct vmms_cred *owner, const char *path, const char *field, char *err,
                  size_t errlen);
void vmms_disk_fds_done(struct vmms_disk_fds *f);
