// SPDX-License-Identifier: MIT
/* The worker's device table (devices.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/vmstate.h"
#include "devices.h"

int vmwp_devices_add(struct vmwp_devices *t, const struct device_ops *ops, void *dev) {
        if (!ops || !ops->name || !ops->quiesce || !ops->resume)
                return -EINVAL;
        if (t->n >= VMWP_DEVICES_MAX)
                return -ENOSPC;
        if (t->n_quiesced)
                return -EBUSY; /* rows join a running table only */
        t->rows[t->n++] = (struct vmwp_device_row){ ops, dev };
        return 0;
}

void vmwp_devices_remove(struct vmwp_devices *t, const void *dev) {
        if (t->n_quiesced)
                return; /* a quiesced table's rows are counted from its end */
        for (size_t i = 0; i < t->n; i++)
                if (t->rows[i].dev == dev) {
                        memmove(&t->rows[i], &t->rows[i + 1], (t->n - i - 1) * sizeof t->rows[0]);
                        t->n--;
                        return;
                }
}

int vmwp_devices_quiesce(struct vmwp_devices *t, char *err, size_t errlen) {
        while (t->n_quiesced < t->n) {
                struct vmwp_device_row *d = &t->rows[t->n - 1 - t->n_quiesced];
                int r = d->ops->quiesce(d->dev);
                if (r < 0) {
                        vmwp_devices_resume(t);
                        return errorf(err, errlen, r, "quiescing %s: %s", d->ops->name, strerror(-r));
                }
                t->n_quiesced++;
        }
        return 0;
}

void vmwp_devices_resume(struct vmwp_devices *t) {
        while (t->n_quiesced > 0) {
                struct vmwp_device_row *d = &t->rows[t->n - t->n_quiesced];
                d->ops->resume(d->dev);
                t->n_quiesced--;
        }
}

int vmwp_devices_detach(struct vmwp_devices *t) {
        int r = 0;
        for (size_t i = t->n; i-- > 0;) {
                const struct vmwp_device_row *d = &t->rows[i];
                int k = d->ops->detach ? d->ops->detach(d->dev) : 0;
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}

void vmwp_devices_attach(struct vmwp_devices *t) {
        for (size_t i = 0; i < t->n; i++)
                if (t->rows[i].ops->attach)
                        t->rows[i].ops->attach(t->rows[i].dev);
}

void vmwp_devices_stats(const struct vmwp_devices *t, struct json_object *into) {
        for (size_t i = 0; i < t->n; i++)
                if (t->rows[i].ops->stats)
                        t->rows[i].ops->stats(t->rows[i].dev, into);
}

bool vmwp_devices_quiesced(const struct vmwp_devices *t) {
        return t->n_quiesced == t->n;
}

static int save(struct vmwp_devices *t, bool live, struct vmstate_writer *w, char *err, size_t errlen) {
        if (!vmwp_devices_quiesced(t))
                return errorf(err, errlen, -EBUSY, "the devices are not quiesced");
        for (size_t i = 0; i < t->n; i++)
                if (!t->rows[i].ops->save)
                        return errorf(err, errlen, -EOPNOTSUPP, "%s cannot be saved yet", t->rows[i].ops->name);
        for (size_t i = 0; i < t->n; i++) {
                struct vmwp_device_row *d = &t->rows[i];
                if (live && d->ops->memory)
                        continue;
                int r = d->ops->save(d->dev, w, err, errlen);
                if (r < 0) {
                        if (err && errlen && !err[0])
                                snprintf(err, errlen, "saving %s: %s", d->ops->name, strerror(-r));
                        return r;
                }
        }
        return 0;
}

int vmwp_devices_save(struct vmwp_devices *t, struct vmstate_writer *w, char *err, size_t errlen) {
        return save(t, false, w, err, errlen);
}

int vmwp_devices_save_live(struct vmwp_devices *t, struct vmstate_writer *w, char *err, size_t errlen) {
        return save(t, true, w, err, errlen);
}

void *vmwp_devices_memory(const struct vmwp_devices *t, unsigned i, size_t *len, int *fd) {
        for (size_t k = 0; k < t->n; k++)
                if (t->rows[k].ops->memory && i-- == 0)
                        return t->rows[k].ops->memory(t->rows[k].dev, len, fd);
        *len = 0, *fd = -1;
        return NULL;
}

int vmwp_devices_restore(struct vmwp_devices *t, const struct vmstate_section *secs, size_t n, char *err,
                         size_t errlen) {
        for (size_t i = 0; i < t->n; i++)
                if (!t->rows[i].ops->restore)
                        return errorf(err, errlen, -EOPNOTSUPP, "%s cannot be restored yet", t->rows[i].ops->name);
        for (size_t i = 0; i < t->n; i++) {
                struct vmwp_device_row *d = &t->rows[i];
                int r = d->ops->restore(d->dev, secs, n, err, errlen);
                if (r < 0)
                        return r;
        }
        /* Restored devices are quiesced: the first resume starts them. */
        t->n_quiesced = t->n;
        return 0;
}

static bool tag_listed(const uint32_t *tags, uint32_t tag) {
        for (; tags && *tags; tags++)
                if (*tags == tag)
                        return true;
        return false;
}

int vmwp_devices_check_sections(const struct vmwp_devices *t, const uint32_t *also,
                                const struct vmstate_section *secs, size_t n, char *err, size_t errlen) {
        for (size_t i = 0; i < n; i++) {
                const struct vmstate_section *s = &secs[i];
                if ((s->flags & VMSTATE_SECTION_OPTIONAL) || tag_listed(also, s->tag))
                        continue;
                bool read = false;
                for (size_t j = 0; j < t->n && !read; j++)
                        read = tag_listed(t->rows[j].ops->tags, s->tag);
                if (read)
                        continue;
                char name[5];
                vmstate_tag_name(s->tag, name);
                return errorf(err, errlen, -EPROTONOSUPPORT,
                              "section %s #%u at offset %llu: no device of this VM reads it and it is not "
                              "marked optional (saved by a newer vmstack, or a device this VM lacks)",
                              name, s->instance, (unsigned long long)s->offset);
        }
        return 0;
}
