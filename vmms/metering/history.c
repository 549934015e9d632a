// SPDX-License-Identifier: MIT
/* The documents of a VM's last periodic samples, for GetMetricsHistory
 * (docs/metering.md "History"): a ring bounded by count and by age. Pure
 * (vmms/metering.h), unit-tested in tests/unit/test-vmms-metering.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/metering.h"

static unsigned slot(const struct vmms_meter_history *h, unsigned i) {
        return (h->first + i) % VMMS_METER_HISTORY_MAX;
}

static void drop_oldest(struct vmms_meter_history *h) {
        free(h->doc[h->first]);
        h->doc[h->first] = NULL;
        h->first = slot(h, 1);
        h->n--;
}

int vmms_meter_history_push(struct vmms_meter_history *h, const char *doc, uint64_t at_us) {
        if (h->n && at_us < h->at_us[slot(h, h->n - 1)])
                return -EINVAL;
        char *copy = strdup(doc);
        if (!copy)
                return -ENOMEM;
        while (h->n && (h->n == VMMS_METER_HISTORY_MAX || h->at_us[h->first] + VMMS_METER_HISTORY_US < at_us))
                drop_oldest(h);
        unsigned i = slot(h, h->n);
        h->doc[i] = copy;
        h->at_us[i] = at_us;
        h->n++;
        return 0;
}

char *vmms_meter_history_text(const struct vmms_meter_history *h) {
        size_t len = 3; /* "[", "]", NUL */
        for (unsigned i = 0; i < h->n; i++)
                len += strlen(h->doc[slot(h, i)]) + 1;
        char *out = malloc(len), *p = out;
        if (!out)
                return NULL;
        *p++ = '[';
        for (unsigned i = 0; i < h->n; i++) {
                size_t l = strlen(h->doc[slot(h, i)]);
                if (i)
                        *p++ = ',';
                memcpy(p, h->doc[slot(h, i)], l);
                p += l;
        }
        *p++ = ']';
        *p = '\0';
        return out;
}

void vmms_meter_history_clear(struct vmms_meter_history *h) {
        while (h->n)
                drop_oldest(h);
        h->first = 0;
}
