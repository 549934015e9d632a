// SPDX-License-Identifier: MIT
/* The fake worker's disks and NICs of a running VM, as vmwp's
 * (vmwp/control-hotplug.c, run-hotplug.c, vm-storage-hotplug.c, vm-net.c):
 * the same checks in the same order and the same errnos, the fds counted
 * and kept (an image stays open, its lock held, until its detach closes
 * it; a TAP goes when its last queue fd closes), the configuration
 * changed with the same index shift, and the sandbox's limits: without
 * "hot_plug" a VM started without disks (NICs) refuses them (EOPNOTSUPP),
 * and a writable image may not exceed RLIMIT_FSIZE (the largest writable
 * image at start, 1 GiB, or "max_file_size": EFBIG). Each op prints a line
 * on the console:
 *   fake-vmwp: disk-attach disks[I] PATH rw|ro parents=P size=BYTES
 *   fake-vmwp: disk-detach disks[I] PATH
 *   fake-vmwp: disk-resize disks[I] size=BYTES grown=true|false
 *   fake-vmwp: nic-attach nics[I] tap=NAME queues=Q instance=GUID
 *   fake-vmwp: nic-detach nics[I] tap=NAME
 *   fake-vmwp: disk-qos disks[I] max_iops=N min_iops=N max_bytes_per_s=N
 *   fake-vmwp: nic-qos nics[I] max_in_bps=N max_out_bps=N */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "vhdx/vhdx.h"
#include "vmms-fake-hotplug.h"

#define PARENTS_MAX 16u  /* DISK_MAX_PARENTS */
#define QUEUES_MAX 8u    /* a NIC's "queues" */
#define FSIZE_MIN (1ull << 30)

struct fake_hotplug {
        struct vm_config cfg;
        int disk_fd[VM_DISKS_MAX];
        int parent_fd[VM_DISKS_MAX][PARENTS_MAX];
        uint8_t n_parents[VM_DISKS_MAX];
        uint64_t disk_size[VM_DISKS_MAX];
        int tap_fd[VM_NICS_MAX][QUEUES_MAX];
        uint8_t n_taps[VM_NICS_MAX];
        bool disks_ok, nics_ok; /* the sandbox has storvsp's, netvsp's policy */
        uint64_t fsize;         /* its RLIMIT_FSIZE */
};

static int64_t get_int(json_object *o, const char *key, int64_t def) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return def;
        return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
}

static int parse_hot_plug(struct fake_hotplug *h, json_object *msg, uint64_t *max_file_size) {
        json_object *hp, *v;
        *max_file_size = 0;
        if (!json_object_object_get_ex(msg, "hot_plug", &hp))
                return 0;
        if (!json_object_is_type(hp, json_type_object))
                return -EINVAL;
        json_object_object_foreach(hp, key, val) {
                bool flag = !strcmp(key, "disks") || !strcmp(key, "nics");
                if (flag ? !json_object_is_type(val, json_type_boolean)
                         : strcmp(key, "max_file_size") || !json_object_is_type(val, json_type_int) ||
                                   json_object_get_int64(val) < 0 || json_object_get_int64(val) > (1ll << 62))
                        return -EINVAL;
        }
        h->disks_ok |= json_object_object_get_ex(hp, "disks", &v) && json_object_get_boolean(v);
        h->nics_ok |= json_object_object_get_ex(hp, "nics", &v) && json_object_get_boolean(v);
        *max_file_size = (uint64_t)get_int(hp, "max_file_size", 0);
        return 0;
}

struct fake_hotplug *fake_hotplug_new(const struct vm_config *c, json_object *msg, const int *fds, size_t n,
                                      char *err, size_t errlen) {
        struct fake_hotplug *h = calloc(1, sizeof *h);
        json_object *q = NULL, *p = NULL;
        uint64_t max_file_size;
        if (!h)
                return errorf(err, errlen, -ENOMEM, "out of memory"), NULL;
        h->cfg = *c;
        h->disks_ok = c->n_disks > 0, h->nics_ok = c->n_nics > 0;
        if (parse_hot_plug(h, msg, &max_file_size) < 0) {
                free(h);
                return errorf(err, errlen, -EINVAL, "\"hot_plug\" must be {\"disks\":bool,\"nics\":bool,"
                              "\"max_file_size\":0..2^62}, each optional"), NULL;
        }
        h->fsize = MAX(FSIZE_MIN, max_file_size);
        size_t k = 0, parents = 0;
        for (uint32_t i = 0; i < c->n_disks && k < n; i++, k++) {
                struct stat st;
                h->disk_fd[i] = fds[k];
                h->disk_size[i] = fstat(fds[k], &st) == 0 ? (uint64_t)st.st_size : 0;
                if (!c->disks[i].read_only && S_ISREG(st.st_mode))
                        h->fsize = MAX(h->fsize, h->disk_size[i]);
        }
        json_object *st = NULL;
        (void)json_object_object_get_ex(msg, "nic_queues", &q);
        (void)json_object_object_get_ex(msg, "nic_steer", &st);
        for (uint32_t i = 0; i < c->n_nics; i++) {
                int64_t queues = !c->nics[i].tap[0] ? 0 : q ? json_object_get_int64(json_object_array_get_idx(q, i)) : 1;
                for (int64_t j = 0; j < queues && j < QUEUES_MAX && k < n; j++)
                        h->tap_fd[i][h->n_taps[i]++] = fds[k++];
                if (st && json_object_get_boolean(json_object_array_get_idx(st, i)) && k < n)
                        k++; /* the RSS steering map: check_fds reported it; the fake keeps no copy */
        }
        if (json_object_object_get_ex(msg, "disk_parents", &p))
                for (uint32_t i = 0; i < c->n_disks; i++)
                        parents += (size_t)json_object_get_int(json_object_array_get_idx(p, i));
        for (uint32_t i = 0, at = 0; p && i < c->n_disks; i++)
                for (int j = 0; j < json_object_get_int(json_object_array_get_idx(p, i)) && j < (int)PARENTS_MAX &&
                                parents <= n; j++)
                        h->parent_fd[i][h->n_parents[i]++] = fds[n - parents + at++];
        return h;
}

bool fake_hotplug_is_op(const char *op) {
        return !strcmp(op, "disk-attach") || !strcmp(op, "disk-detach") || !strcmp(op, "disk-resize") ||
               !strcmp(op, "nic-attach") || !strcmp(op, "nic-detach") || !strcmp(op, "disk-qos") ||
               !strcmp(op, "nic-qos");
}

/* h's configuration with entry appended to `key` (alone: instead of its
 * entries), through vm_config_parse(), as vmwp's parse_with. */
static int parse_with(const struct fake_hotplug *h, const char *key, json_object *entry, bool alone,
                      struct vm_config *out, char *err, size_t errlen) {
        char *text = vm_config_to_json(&h->cfg);
        json_object *root = text ? json_tokener_parse(text) : NULL, *a = NULL;
        free(text);
        if (!root)
                return -ENOMEM;
        if (alone)
                json_object_object_add(root, key, a = json_object_new_array());
        else
                json_object_object_get_ex(root, key, &a);
        json_object_array_add(a, json_object_get(entry));
        const char *s = json_object_to_json_string(root);
        int r = vm_config_parse(s, strlen(s), out, err, errlen);
        json_object_put(root);
        return r;
}

static void close_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
}

static bool disk_clash(const struct vm_config *cfg, const struct vm_disk_config *d, char *err, size_t errlen) {
        for (uint32_t j = 0; j < cfg->n_disks; j++) {
                const struct vm_disk_config *o = &cfg->disks[j];
                if (o->bus == d->bus && o->controller == d->controller && o->lun == d->lun)
                        return errorf(err, errlen, -EEXIST, "controller %u LUN %u is disks[%u]'s already",
                                      d->controller, d->lun, j), true;
                if (!strcmp(o->path, d->path))
                        return errorf(err, errlen, -EEXIST, "%s is disks[%u] already", d->path, j), true;
        }
        return false;
}

static bool controller_used(const struct vm_config *cfg, uint32_t ctrl) {
        for (uint32_t j = 0; j < cfg->n_disks; j++)
                if (cfg->disks[j].bus == VM_DISK_SCSI && cfg->disks[j].controller == ctrl)
                        return true;
        return false;
}

/* The checks of vmwp's parse_disk_attach, then the worker's own. */
static int disk_attach_check(struct fake_hotplug *h, json_object *req, size_t n_fds, bool paused,
                             struct vm_disk_config *d, uint32_t *parents, char *err, size_t errlen) {
        json_object *entry;
        struct vm_config *nc = malloc(sizeof *nc);
        if (!nc)
                return -ENOMEM;
        int64_t p = get_int(req, "parents", 0);
        int r = !json_object_object_get_ex(req, "disk", &entry) || !json_object_is_type(entry, json_type_object)
                        ? errorf(err, errlen, -EINVAL, "\"disk\" must be a disk entry of the configuration")
                : h->cfg.n_disks >= VM_DISKS_MAX ? errorf(err, errlen, -ENOSPC, "the VM has %u disks", h->cfg.n_disks)
                : p < 0 || p > PARENTS_MAX      ? errorf(err, errlen, -EINVAL, "\"parents\" must be 0..16")
                : n_fds != 1 + (size_t)p ? errorf(err, errlen, -EINVAL, "expected the image's fd and %lld parent fds, "
                                                  "got %zu fds", (long long)p, n_fds)
                                         : parse_with(h, "disks", entry, false, nc, err, errlen);
        if (r == -EINVAL && n_fds == 1 + (size_t)p && parse_with(h, "disks", entry, true, nc, NULL, 0) == 0 &&
            disk_clash(&h->cfg, &nc->disks[0], err, errlen))
                r = -EEXIST;
        if (r == 0) {
                *d = nc->disks[h->cfg.n_disks];
                *parents = (uint32_t)p;
        }
        free(nc);
        if (r < 0)
                return r;
        if (d->bus == VM_DISK_IDE)
                return errorf(err, errlen, -EOPNOTSUPP, "IDE disks cannot be added to a running VM (emulated ATA has "
                              "no hot plug): attach it to a SCSI controller, or while the VM is off");
        if (p && d->format != VM_DISK_VHDX)
                return errorf(err, errlen, -EINVAL, "only a VHDX disk has parents");
        if (disk_clash(&h->cfg, d, err, errlen))
                return -EEXIST;
        if (paused)
                return errorf(err, errlen, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        if (!h->disks_ok)
                return errorf(err, errlen, -EOPNOTSUPP, "the VM was started without disks and without \"hot_plug\" "
                              "\"disks\": its sandbox has no policy for storvsp's threads; add the disk while it is off");
        return 0;
}

static int disk_attach(struct fake_hotplug *h, json_object *req, int *fds, size_t n_fds, bool paused,
                       json_object *fields, char *err, size_t errlen, char *line, size_t linelen) {
        struct vm_disk_config d;
        uint32_t parents = 0, i = h->cfg.n_disks;
        struct stat st;
        int r = disk_attach_check(h, req, n_fds, paused, &d, &parents, err, errlen);
        if (r == 0 && fstat(fds[0], &st) < 0)
                r = errorf(err, errlen, -EBADF, "disks[%u]: the image's fd is not open", i);
        if (r == 0 && !d.read_only && S_ISREG(st.st_mode) && (uint64_t)st.st_size > h->fsize)
                r = errorf(err, errlen, -EFBIG, "disks[%u]: its image may reach %llu MiB, more than this worker may "
                           "write (%llu MiB)", i, (unsigned long long)(st.st_size >> 20),
                           (unsigned long long)(h->fsize >> 20));
        if (r < 0) {
                close_fds(fds, n_fds);
                return r;
        }
        bool added = !controller_used(&h->cfg, d.controller);
        h->disk_fd[i] = fds[0];
        memcpy(h->parent_fd[i], fds + 1, parents * sizeof fds[0]);
        h->n_parents[i] = (uint8_t)parents;
        h->disk_size[i] = (uint64_t)st.st_size;
        h->cfg.disks[h->cfg.n_disks++] = d;
        int fl = fcntl(fds[0], F_GETFL);
        snprintf(line, linelen, "fake-vmwp: disk-attach disks[%u] %s %s parents=%u size=%llu\n", i, d.path,
                 (fl & O_ACCMODE) == O_RDWR ? "rw" : "ro", parents, (unsigned long long)st.st_size);
        json_object_object_add(fields, "disk", json_object_new_int64(i));
        json_object_object_add(fields, "controller_added", json_object_new_boolean(added));
        json_object_object_add(fields, "size", json_object_new_int64((int64_t)st.st_size));
        return 0;
}

/* "disk": an index of a SCSI disk (vmwp's parse_disk_index). */
static int disk_index(const struct fake_hotplug *h, json_object *req, uint32_t *i, char *err, size_t errlen) {
        int64_t v = get_int(req, "disk", -1);
        if (v < 0)
                return errorf(err, errlen, -EINVAL, "\"disk\" must be a disk's index");
        if (v >= (int64_t)h->cfg.n_disks)
                return errorf(err, errlen, -ENOENT, "disks[%lld]: no such disk (the VM has %u)", (long long)v,
                              h->cfg.n_disks);
        *i = (uint32_t)v;
        if (h->cfg.disks[v].bus == VM_DISK_IDE)
                return errorf(err, errlen, -EOPNOTSUPP, "disks[%lld] is an IDE disk: emulated ATA cannot change while "
                              "the VM runs", (long long)v);
        return 0;
}

static int disk_detach(struct fake_hotplug *h, json_object *req, bool paused, json_object *fields, char *err,
                       size_t errlen, char *line, size_t linelen) {
        uint32_t i = 0;
        int r = disk_index(h, req, &i, err, errlen);
        if (r < 0)
                return r;
        if (paused)
                return errorf(err, errlen, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        snprintf(line, linelen, "fake-vmwp: disk-detach disks[%u] %s\n", i, h->cfg.disks[i].path);
        uint32_t ctrl = h->cfg.disks[i].controller, after = h->cfg.n_disks - i - 1;
        safe_close(h->disk_fd[i]); /* its lock goes with it, before the reply */
        close_fds(h->parent_fd[i], h->n_parents[i]);
        memmove(&h->cfg.disks[i], &h->cfg.disks[i + 1], after * sizeof h->cfg.disks[0]);
        memmove(&h->disk_fd[i], &h->disk_fd[i + 1], after * sizeof h->disk_fd[0]);
        memmove(&h->parent_fd[i], &h->parent_fd[i + 1], after * sizeof h->parent_fd[0]);
        memmove(&h->n_parents[i], &h->n_parents[i + 1], after * sizeof h->n_parents[0]);
        memmove(&h->disk_size[i], &h->disk_size[i + 1], after * sizeof h->disk_size[0]);
        h->cfg.n_disks--;
        json_object_object_add(fields, "controller_removed", json_object_new_boolean(!controller_used(&h->cfg, ctrl)));
        return 0;
}

static int disk_resize(struct fake_hotplug *h, json_object *req, bool paused, json_object *fields, char *err,
                       size_t errlen, char *line, size_t linelen) {
        uint32_t i = 0;
        struct stat st = { 0 };
        int r = disk_index(h, req, &i, err, errlen);
        if (r < 0)
                return r;
        const struct vm_disk_config *d = &h->cfg.disks[i];
        int64_t size = get_int(req, "size", -1);
        if (size <= 0 || size % d->sector_size)
                return errorf(err, errlen, -EINVAL, "\"size\" must be the new size in bytes, whole %u-byte sectors",
                              d->sector_size);
        if (paused)
                return errorf(err, errlen, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        if (!d->read_only && (uint64_t)size > h->fsize)
                return errorf(err, errlen, -EFBIG, "disks[%u]: its image may reach %llu MiB, more than this worker "
                              "may write (%llu MiB)", i, (unsigned long long)(size >> 20),
                              (unsigned long long)(h->fsize >> 20));
        if (d->format == VM_DISK_VHDX) { /* grown here, as vmwp's disk_resize does (vhdx_grow) */
                struct vhdx *v;
                char why[512];
                r = vhdx_open(h->disk_fd[i], VHDX_OPEN_WRITABLE, &v, why, sizeof why);
                if (r == 0) {
                        struct vhdx_info info;
                        vhdx_get_info(v, &info);
                        h->disk_size[i] = info.virtual_size;
                        r = vhdx_grow(v, (uint64_t)size, why, sizeof why);
                        (void)vhdx_close(v);
                }
                if (r < 0)
                        return errorf(err, errlen, r, "disks[%u] (%s): %s", i, d->path, why);
        } else if ((uint64_t)size < h->disk_size[i]) {
                return errorf(err, errlen, -EINVAL, "disks[%u] (%s): shrinking a disk (%llu to %lld bytes) is not "
                              "supported", i, d->path, (unsigned long long)h->disk_size[i], (long long)size);
        } else if (fstat(h->disk_fd[i], &st) < 0 ||
                   ((uint64_t)st.st_size & ~(uint64_t)(d->sector_size - 1)) != (uint64_t)size) {
                return errorf(err, errlen, -EINVAL, "disks[%u] (%s): the image holds %lld bytes, not %lld: grow it "
                              "first", i, d->path, (long long)st.st_size, (long long)size);
        }
        bool grown = (uint64_t)size > h->disk_size[i];
        h->disk_size[i] = (uint64_t)size;
        snprintf(line, linelen, "fake-vmwp: disk-resize disks[%u] size=%lld grown=%s\n", i, (long long)size,
                 grown ? "true" : "false");
        json_object_object_add(fields, "size", json_object_new_int64(size));
        json_object_object_add(fields, "grown", json_object_new_boolean(grown));
        return 0;
}

/* The MAC, the TAP or the instance of another NIC (vmwp's check_nic_unique). */
static int nic_clash(const struct vm_config *cfg, const struct vm_nic_config *n, char *err, size_t errlen) {
        for (uint32_t j = 0; j < cfg->n_nics; j++) {
                const struct vm_nic_config *o = &cfg->nics[j];
                if (!memcmp(o->mac, n->mac, sizeof n->mac))
                        return errorf(err, errlen, -EEXIST, "the MAC address is nics[%u]'s already", j);
                if (!strcmp(o->tap, n->tap))
                        return errorf(err, errlen, -EEXIST, "TAP %s is nics[%u]'s already", n->tap, j);
                if (guid_equal(&o->instance, &n->instance))
                        return errorf(err, errlen, -EEXIST, "the instance is nics[%u]'s already (derived from the "
                                      "index when absent: give the NIC its own)", j);
        }
        return 0;
}

static int nic_attach_check(struct fake_hotplug *h, json_object *req, size_t n_fds, bool paused,
                            struct vm_nic_config *nic, char *err, size_t errlen) {
        json_object *entry;
        struct vm_config *nc = malloc(sizeof *nc);
        if (!nc)
                return -ENOMEM;
        int64_t queues = get_int(req, "queues", 1);
        int r = !json_object_object_get_ex(req, "nic", &entry) || !json_object_is_type(entry, json_type_object)
                        ? errorf(err, errlen, -EINVAL, "\"nic\" must be a NIC entry of the configuration")
                : h->cfg.n_nics >= VM_NICS_MAX ? errorf(err, errlen, -ENOSPC, "the VM has %u NICs", h->cfg.n_nics)
                                               : parse_with(h, "nics", entry, false, nc, err, errlen);
        if (r == -EINVAL && parse_with(h, "nics", entry, true, nc, NULL, 0) == 0) {
                nc->nics[0].instance = (struct guid){ 0 }; /* index 0's: only the MAC and the TAP count */
                uint32_t total = nc->nics[0].queues;
                for (uint32_t j = 0; j < h->cfg.n_nics; j++)
                        total += h->cfg.nics[j].queues;
                int k = nic_clash(&h->cfg, &nc->nics[0], err, errlen);
                r = k < 0 ? k : total > VM_NIC_QUEUES_MAX ? errorf(err, errlen, -ENOSPC, "too many queues") : r;
        } else if (r == 0) {
                *nic = nc->nics[h->cfg.n_nics];
        }
        free(nc);
        if (r < 0)
                return r;
        uint32_t max = vm_nic_queues(nic, h->cfg.vcpus);
        if (!nic->tap[0])
                return errorf(err, errlen, -EINVAL, "the NIC needs \"tap\": vmms passes its TAP's fds");
        if (queues < 1 || queues > (int64_t)max)
                return errorf(err, errlen, -EINVAL, "\"queues\" must be 1..%u", max);
        json_object *st;
        bool steer = json_object_object_get_ex(req, "steer", &st) && json_object_get_boolean(st);
        if (steer && queues < 2)
                return errorf(err, errlen, -EINVAL, "\"steer\" must be a boolean, true only with 2 or more queues");
        if (n_fds != (size_t)queues + steer)
                return errorf(err, errlen, -EINVAL, "expected %lld TAP queue fds, got %zu", (long long)queues, n_fds);
        if ((r = nic_clash(&h->cfg, nic, err, errlen)) < 0)
                return r;
        if (paused)
                return errorf(err, errlen, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        if (!h->nics_ok)
                return errorf(err, errlen, -EOPNOTSUPP, "the VM was started without NICs and without \"hot_plug\" "
                              "\"nics\": its sandbox has no network access; add the NIC while it is off");
        return 0;
}

static int nic_attach(struct fake_hotplug *h, json_object *req, int *fds, size_t n_fds, bool paused,
                      json_object *fields, char *err, size_t errlen, char *line, size_t linelen) {
        struct vm_nic_config nic;
        uint32_t i = h->cfg.n_nics;
        int r = nic_attach_check(h, req, n_fds, paused, &nic, err, errlen);
        json_object *st;
        bool steer = r == 0 && json_object_object_get_ex(req, "steer", &st) && json_object_get_boolean(st);
        size_t queues = n_fds - steer;
        for (size_t k = 0; r == 0 && k < queues; k++) { /* each fd a queue of the TAP the entry names */
                struct ifreq ifr = { 0 };
                if (ioctl(fds[k], TUNGETIFF, &ifr) < 0 || strcmp(ifr.ifr_name, nic.tap))
                        r = errorf(err, errlen, -EINVAL, "nics[%u]: fd %zu is not a queue of TAP %s", i, k, nic.tap);
        }
        if (r < 0) {
                close_fds(fds, n_fds);
                return r;
        }
        if (steer) /* the RSS steering map: the fake has no guest to fill it */
                close(fds[queues]);
        n_fds = queues;
        memcpy(h->tap_fd[i], fds, n_fds * sizeof fds[0]);
        h->n_taps[i] = (uint8_t)n_fds;
        h->cfg.nics[h->cfg.n_nics++] = nic;
        char s[GUID_STRING_MAX];
        guid_to_string(&nic.instance, s);
        snprintf(line, linelen, "fake-vmwp: nic-attach nics[%u] tap=%s queues=%zu%s instance=%s\n", i, nic.tap, n_fds,
                 steer ? " steered" : "", s);
        json_object_object_add(fields, "nic", json_object_new_int64(i));
        json_object_object_add(fields, "instance", json_object_new_string(s));
        return 0;
}

static int nic_detach(struct fake_hotplug *h, json_object *req, bool paused, char *err, size_t errlen, char *line,
                      size_t linelen) {
        int64_t i = get_int(req, "nic", -1);
        if (i < 0)
                return errorf(err, errlen, -EINVAL, "\"nic\" must be a NIC's index");
        if (i >= (int64_t)h->cfg.n_nics)
                return errorf(err, errlen, -ENOENT, "nics[%lld]: no such NIC (the VM has %u)", (long long)i,
                              h->cfg.n_nics);
        if (paused)
                return errorf(err, errlen, -EBUSY, "the VM is paused (or saved, or migrated): resume it first");
        snprintf(line, linelen, "fake-vmwp: nic-detach nics[%lld] tap=%s\n", (long long)i, h->cfg.nics[i].tap);
        close_fds(h->tap_fd[i], h->n_taps[i]); /* a TAP vmms made goes with them */
        uint32_t after = h->cfg.n_nics - (uint32_t)i - 1;
        memmove(&h->cfg.nics[i], &h->cfg.nics[i + 1], after * sizeof h->cfg.nics[0]);
        memmove(&h->tap_fd[i], &h->tap_fd[i + 1], after * sizeof h->tap_fd[0]);
        memmove(&h->n_taps[i], &h->n_taps[i + 1], after * sizeof h->n_taps[0]);
        h->cfg.n_nics--;
        return 0;
}

/* The limits keys[k] of a disk-qos or nic-qos request into *v[k] (one
 * left out keeps its value); a negative one: -EINVAL, "(0: zero)". */
static int qos_fields(json_object *req, const char *const *keys, uint64_t *const *v, size_t n, const char *zero,
                      char *err, size_t errlen) {
        for (size_t k = 0; k < n; k++) {
                int64_t x = get_int(req, keys[k], (int64_t)*v[k]);
                if (x < 0)
                        return errorf(err, errlen, -EINVAL, "\"%s\" must be a non-negative integer (0: %s)", keys[k],
                                      zero);
                *v[k] = (uint64_t)x;
        }
        return 0;
}

/* disk-qos as vmwp checks it (vmwp_control_parse_disk_qos): a disk of the
 * configuration, fields left out kept, vm_disk_qos_invalid; also paused. */
static int disk_qos(struct fake_hotplug *h, json_object *req, char *err, size_t errlen, char *line, size_t linelen) {
        static const char *const keys[] = { "max_iops", "min_iops", "max_bytes_per_s" };
        int64_t i = get_int(req, "disk", -1);
        if (i < 0)
                return errorf(err, errlen, -EINVAL, "\"disk\" must be a disk's index");
        if (i >= (int64_t)h->cfg.n_disks)
                return errorf(err, errlen, -ENOENT, "disks[%lld]: no such disk (the VM has %u)", (long long)i,
                              h->cfg.n_disks);
        struct vm_disk_qos q = h->cfg.disks[i].qos;
        uint64_t *const v[] = { &q.max_iops, &q.min_iops, &q.max_bytes_per_s };
        int r = qos_fields(req, keys, v, ARRAY_SIZE(v), "none", err, errlen);
        if (r < 0)
                return r;
        const char *field, *why = vm_disk_qos_invalid(&q, &field);
        if (why)
                return errorf(err, errlen, -EINVAL, "disks[%lld].qos.%s: %s", (long long)i, field, why);
        h->cfg.disks[i].qos = q;
        snprintf(line, linelen, "fake-vmwp: disk-qos disks[%lld] max_iops=%llu min_iops=%llu max_bytes_per_s=%llu\n",
                 (long long)i, (unsigned long long)q.max_iops, (unsigned long long)q.min_iops,
                 (unsigned long long)q.max_bytes_per_s);
        return 0;
}

/* nic-qos as vmwp checks it (vmwp_control_parse_nic_qos): a NIC of the
 * configuration, fields left out kept, vm_nic_qos_invalid; also paused. */
static int nic_qos(struct fake_hotplug *h, json_object *req, char *err, size_t errlen, char *line, size_t linelen) {
        static const char *const keys[] = { "max_in_bps", "max_out_bps" };
        int64_t i = get_int(req, "nic", -1);
        if (i < 0)
                return errorf(err, errlen, -EINVAL, "\"nic\" must be a NIC's index");
        if (i >= (int64_t)h->cfg.n_nics)
                return errorf(err, errlen, -ENOENT, "nics[%lld]: no such NIC (the VM has %u)", (long long)i,
                              h->cfg.n_nics);
        struct vm_nic_qos q = h->cfg.nics[i].qos;
        uint64_t *const v[] = { &q.max_in_bps, &q.max_out_bps };
        int r = qos_fields(req, keys, v, ARRAY_SIZE(v), "no cap", err, errlen);
        if (r < 0)
                return r;
        const char *field, *why = vm_nic_qos_invalid(&q, &field);
        if (why)
                return errorf(err, errlen, -EINVAL, "nics[%lld].qos.%s: %s", (long long)i, field, why);
        h->cfg.nics[i].qos = q;
        snprintf(line, linelen, "fake-vmwp: nic-qos nics[%lld] max_in_bps=%llu max_out_bps=%llu\n", (long long)i,
                 (unsigned long long)q.max_in_bps, (unsigned long long)q.max_out_bps);
        return 0;
}

int fake_hotplug_run(struct fake_hotplug *h, json_object *req, int *fds, size_t n_fds, bool paused,
                     json_object *fields, char *err, size_t errlen, char *line, size_t linelen) {
        json_object *v;
        const char *op = json_object_object_get_ex(req, "op", &v) ? json_object_get_string(v) : "";
        bool takes_fds = !strcmp(op, "disk-attach") || !strcmp(op, "nic-attach");
        line[0] = 0;
        if (!takes_fds && n_fds) {
                close_fds(fds, n_fds);
                return errorf(err, errlen, -EINVAL, "%s takes no fds", op);
        }
        if (!strcmp(op, "disk-attach"))
                return disk_attach(h, req, fds, n_fds, paused, fields, err, errlen, line, linelen);
        if (!strcmp(op, "nic-attach"))
                return nic_attach(h, req, fds, n_fds, paused, fields, err, errlen, line, linelen);
        if (!strcmp(op, "disk-detach"))
                return disk_detach(h, req, paused, fields, err, errlen, line, linelen);
        if (!strcmp(op, "disk-resize"))
                return disk_resize(h, req, paused, fields, err, errlen, line, linelen);
        if (!strcmp(op, "nic-detach"))
                return nic_detach(h, req, paused, err, errlen, line, linelen);
        if (!strcmp(op, "disk-qos"))
                return disk_qos(h, req, err, errlen, line, linelen);
        if (!strcmp(op, "nic-qos"))
                return nic_qos(h, req, err, errlen, line, linelen);
        return errorf(err, errlen, -EOPNOTSUPP, "not a hot-plug op");
}

void fake_hotplug_describe(const struct fake_hotplug *h, char *buf, size_t len) {
        size_t used = 0;
        char s[GUID_STRING_MAX];
        buf[0] = 0;
        for (uint32_t i = 0; i < h->cfg.n_disks && used < len; i++) {
                const struct vm_disk_qos *q = &h->cfg.disks[i].qos;
                used += (size_t)snprintf(buf + used, len - used, "fake-vmwp: disks[%u] %s\n", i, h->cfg.disks[i].path);
                if ((q->max_iops || q->min_iops || q->max_bytes_per_s) && used < len) /* the Storage QoS it opens with */
                        used += (size_t)snprintf(buf + used, len - used,
                                                 "fake-vmwp: disks[%u] qos max_iops=%llu min_iops=%llu "
                                                 "max_bytes_per_s=%llu\n",
                                                 i, (unsigned long long)q->max_iops, (unsigned long long)q->min_iops,
                                                 (unsigned long long)q->max_bytes_per_s);
        }
        for (uint32_t i = 0; i < h->cfg.n_nics && used < len; i++) {
                const struct vm_nic_qos *q = &h->cfg.nics[i].qos;
                used += (size_t)snprintf(buf + used, len - used, "fake-vmwp: nics[%u] tap=%s instance=%s\n", i,
                                         h->cfg.nics[i].tap, guid_to_string(&h->cfg.nics[i].instance, s));
                if ((q->max_in_bps || q->max_out_bps) && used < len) /* the caps its NIC is made with */
                        used += (size_t)snprintf(buf + used, len - used,
                                                 "fake-vmwp: nics[%u] qos max_in_bps=%llu max_out_bps=%llu\n", i,
                                                 (unsigned long long)q->max_in_bps,
                                                 (unsigned long long)q->max_out_bps);
        }
}
