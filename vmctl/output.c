// SPDX-License-Identifier: MIT
/* Human-readable output: aligned tables and durations. (--json output is
 * built with json-c where the data is produced.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmctl/vmctl.h"

#define TABLE_MAX_COLS 8u

struct vmctl_table {
        unsigned n_cols;
        size_t n_rows;
        char **cells; /* row-major, the header row first */
        size_t width[TABLE_MAX_COLS];
};

struct vmctl_table *vmctl_table_new(unsigned n_cols, const char *const *headers) {
        if (n_cols == 0 || n_cols > TABLE_MAX_COLS)
                return NULL;
        struct vmctl_table *t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        t->n_cols = n_cols;
        if (vmctl_table_add(t, headers) < 0) {
                free(t);
                return NULL;
        }
        return t;
}

int vmctl_table_add(struct vmctl_table *t, const char *const *cells) {
        char **c = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof *c);
        if (!c)
                return -ENOMEM;
        t->cells = c;
        for (unsigned i = 0; i < t->n_cols; i++) {
                char *s = strdup(cells[i] ? cells[i] : "");
                if (!s)
                        return -ENOMEM;
                c[t->n_rows * t->n_cols + i] = s;
                size_t l = strlen(s);
                if (l > t->width[i])
                        t->width[i] = l;
        }
        t->n_rows++;
        return 0;
}

void vmctl_table_print(struct vmctl_table *t) {
        for (size_t r = 0; r < t->n_rows; r++)
                for (unsigned i = 0; i < t->n_cols; i++) {
                        const char *s = t->cells[r * t->n_cols + i];
                        if (i + 1 == t->n_cols)
                                printf("%s\n", s);
                        else
                                printf("%-*s  ", (int)t->width[i], s);
                }
}

void vmctl_table_free(struct vmctl_table *t) {
        if (!t)
                return;
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
}

void vmctl_format_duration(uint64_t usec, char *buf, size_t len) {
        uint64_t s = usec / 1000000;
        if (usec == 0)
                snprintf(buf, len, "-");
        else if (s < 60)
                snprintf(buf, len, "%llu.%01llus", (unsigned long long)s, (unsigned long long)(usec / 100000 % 10));
        else if (s < 3600)
                snprintf(buf, len, "%llum %llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
        else if (s < 86400)
                snprintf(buf, len, "%lluh %llum", (unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60));
        else
                snprintf(buf, len, "%llud %lluh", (unsigned long long)(s / 86400), (unsigned long long)(s / 3600 % 24));
}

int vmctl_parse_seconds(const char *s, uint64_t *usec) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || *end || v < 0 || v > 86400.0 * 365)
                return -EINVAL;
        *usec = (uint64_t)(v * 1e6);
        return 0;
}
