// SPDX-License-Identifier: MIT
/* Manager.GetHostCapabilities: what this host can run (docs/dbus-api.md). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/macro.h"
#include "core/daemon.h"
#include "host/host.h"

/* "pvm" (nested KVM through kvm_pvm, docs/pvm.md), "vmx" (VT-x), "svm"
 * (AMD-V) or "none": from the loaded KVM module. */
static const char *virtualization_kind(void) {
        if (access("/sys/module/kvm_pvm", F_OK) == 0)
                return "pvm";
        if (access("/sys/module/kvm_intel", F_OK) == 0)
                return "vmx";
        if (access("/sys/module/kvm_amd", F_OK) == 0)
                return "svm";
        return "none";
}

static int kvm_probe(uint32_t *max_vcpus) {
        _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                return -ENOTSUP;
        int n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        if (n <= 0)
                n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
        *max_vcpus = (uint32_t)MIN(n > 0 ? (unsigned)n : 1u, VM_VCPUS_MAX);
        return 0;
}

static int add(sd_bus_message *m, const char *key, const char *type, ...) {
        va_list ap;
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", key);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', type);
        va_start(ap, type);
        if (r >= 0)
                r = sd_bus_message_appendv(m, type, ap);
        va_end(ap);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

/* "storage_pools" (as): each --storage-pool directory, ":ro" appended to a
 * read-only one, so that a client can offer the images vmms would accept. */
static int add_pools(sd_bus_message *m, const struct vmms_path_policy *p) {
        int r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", "storage_pools");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "s");
        for (size_t i = 0; r >= 0 && i < p->n_pools; i++) {
                char buf[VM_PATH_MAX + 4];
                snprintf(buf, sizeof buf, "%s%s", p->pools[i].dir, p->pools[i].read_only ? ":ro" : "");
                r = sd_bus_message_append(m, "s", buf);
        }
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(m);
        return r;
}

/* The host's RAM (the kernel's totalram, /proc/meminfo's MemTotal); 0 when
 * it cannot tell. */
uint64_t vmms_host_memory_mib(void) {
        long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
        return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz >> 20 : 0;
}

int vmms_host_capabilities(struct vmms_daemon *d, sd_bus_message *reply) {
        uint32_t max_vcpus = 0;
        int kvm = kvm_probe(&max_vcpus);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        uint64_t mem_mib = vmms_host_memory_mib();
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = add(reply, "vmstack_version", "s", VMSTACK_VERSION);
        if (r >= 0)
                r = add(reply, "kvm", "b", kvm >= 0);
        if (r >= 0)
                r = add(reply, "kvm_error", "s", kvm >= 0 ? "" : strerror(-kvm));
        if (r >= 0)
                r = add(reply, "virtualization", "s", virtualization_kind());
        if (r >= 0)
                r = add(reply, "max_vcpus", "u", max_vcpus);
        if (r >= 0)
                r = add(reply, "max_memory_mib", "u", (uint32_t)VM_MEMORY_MAX_MIB);
        if (r >= 0)
                r = add(reply, "host_cpus", "u", (uint32_t)(cpus > 0 ? cpus : 0));
        if (r >= 0)
                r = add(reply, "host_memory_mib", "t", mem_mib);
        if (r >= 0)
                r = add(reply, "worker", "s", d->opt.worker);
        if (r >= 0)
                r = add(reply, "worker_present", "b", access(d->opt.worker, X_OK) == 0);
        if (r >= 0)
                r = add(reply, "max_vms", "u", d->opt.max_vms);
        if (r >= 0)
                r = add(reply, "max_vms_per_user", "u", d->opt.max_vms_per_user);
        if (r >= 0)
                r = add_pools(reply, &d->opt.paths);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}
