// SPDX-License-Identifier: MIT
/* vmms: the vmstack Virtual Machine Management Service. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "core/daemon.h"

int main(int argc, char **argv) {
        struct vmms_options opt;
        struct vmms_daemon *d = NULL;
        char err[256];
        int r = vmms_options_parse(argc, argv, &opt, err, sizeof err);
        if (r != 0) {
                if (r < 0)
                        fprintf(stderr, "vmms: %s\n", err);
                return r < 0 ? 2 : 0;
        }
        log_parse_environment();
        /* Keep fds 0-2 taken, so that nothing we open lands there and is
         * then handed to a worker as its stdio. */
        for (int fd; (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0;)
                if (fd > 2) {
                        close(fd);
                        break;
                }
        /* Peers going away must be an error return, never a signal. */
        signal(SIGPIPE, SIG_IGN);
        r = vmms_daemon_new(&opt, &d);
        if (r >= 0)
                r = vmms_daemon_run(d);
        vmms_daemon_free(d);
        return r < 0 ? 1 : 0;
}
