// SPDX-License-Identifier: MIT
/* vmdisplay: the display server of one VM (docs/console.md). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "vmdisplay/vmdisplay.h"
#include "vmdisplay/vnc.h"

int main(int argc, char **argv) {
        struct vmd_options opt;
        char err[512];
        int r = vmd_options_parse(argc, argv, &opt, err, sizeof err);
        if (r != 0) {
                if (r < 0)
                        fprintf(stderr, "vmdisplay: %s\n", err);
                return r < 0 ? VMD_EXIT_USAGE : VMD_EXIT_OK;
        }
        log_set_prefix("vmdisplay");
        log_parse_environment();
        if (opt.verbose)
                log_set_max_level(LOG_LEVEL_DEBUG);
        /* Keep fds 0-2 taken, so that no socket of ours lands there and is
         * then written to as websockify's stdout. */
        for (int fd; (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0;)
                if (fd > 2) {
                        close(fd);
                        break;
                }
        /* Peers going away must be an error return, never a signal. */
        signal(SIGPIPE, SIG_IGN);
        vmd_vnc_log_setup(opt.verbose);
        return opt.screenshot ? vmd_screenshot_run(&opt) : vmd_server_run(&opt);
}
