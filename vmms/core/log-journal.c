// SPDX-License-Identifier: MIT
/* vmms logs to the journal with structured fields when systemd connected its
 * stderr to journald (JOURNAL_STREAM names stderr's device and inode), and to
 * stderr otherwise. Lines about a VM carry VMSTACK_VM_ID and VMSTACK_VM_NAME,
 * so `journalctl VMSTACK_VM_NAME=web1` shows one VM's history. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "common/log.h"
#include "core/daemon.h"

bool vmms_journal_stream_matches(const char *env, dev_t dev, ino_t ino) {
        unsigned long long d, i;
        int n = 0;
        if (!env || sscanf(env, "%llu:%llu%n", &d, &i, &n) != 2 || env[n] != 0)
                return false;
        return d == (unsigned long long)dev && i == (unsigned long long)ino;
}

static void journal_sink(int level, const char *file, int line, const char *func, const char *msg,
                         void *userdata) {
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level, "CODE_FILE=%s", file, "CODE_LINE=%i", line,
                        "CODE_FUNC=%s", func, "SYSLOG_IDENTIFIER=vmms", NULL);
}

void vmms_log_setup(struct vmms_daemon *d) {
        struct stat st;
        d->journal = fstat(STDERR_FILENO, &st) == 0 &&
                     vmms_journal_stream_matches(getenv("JOURNAL_STREAM"), st.st_dev, st.st_ino);
        if (d->journal)
                log_set_sink(journal_sink, NULL);
        else
                log_set_prefix("vmms");
}

/* "%m" stands for the explicit error (as in log_internal()), never errno. */
static void expand_m(const char *fmt, int error, char *out, size_t len) {
        const char *e = strerror(error < 0 ? -error : error);
        size_t o = 0;
        for (const char *p = fmt; *p && o + 1 < len; p++) {
                if (p[0] == '%' && p[1] == 'm') {
                        for (const char *q = e; *q && o + 1 < len; q++)
                                out[o++] = *q == '%' ? ' ' : *q;
                        p++;
                } else if (p[0] == '%' && p[1] == '%' && o + 2 < len) {
                        out[o++] = *p++;
                        out[o++] = *p;
                } else
                        out[o++] = *p;
        }
        out[o] = 0;
}

int vmms_vm_log(const struct vmms_vm *vm, int level, int error, const char *fmt, ...) {
        char f[512], msg[768];
        va_list ap;
        int r = error < 0 ? error : -error;
        if (level > log_get_max_level())
                return r;
        expand_m(fmt, error, f, sizeof f);
        va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        vsnprintf(msg, sizeof msg, f, ap);
#pragma GCC diagnostic pop
        va_end(ap);
        if (vm->d->journal)
                sd_journal_send("MESSAGE=vm %s: %s", vm->config->name, msg, "PRIORITY=%i", level,
                                "VMSTACK_VM_ID=%s", vm->id, "VMSTACK_VM_NAME=%s", vm->config->name,
                                "SYSLOG_IDENTIFIER=vmms", NULL);
        else
                log_full(level, "vm %s: %s", vm->config->name, msg);
        return r;
}
