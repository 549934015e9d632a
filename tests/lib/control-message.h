/* SPDX-License-Identifier: MIT */
/* Unit tests of the worker's config message (vmwp/control.h): the
 * message parsed into a configuration with fresh options, asserting that
 * it parses, and stand-in fds (eventfds) for what vmms would send. */
#pragma once

#include <fcntl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/eventfd.h>

#include "common/test.h"
#include "vmwp/control.h"
#include "vmwp/vm.h"

static inline struct json_object *control_message(const char *json, struct vm_config *cfg,
                                                  struct vmwp_vm_options *opt) {
        char err[256];
        struct json_object *m = json_tokener_parse(json);
        ASSERT_NOT_NULL(m);
        vmwp_vm_options_init(opt);
        int r = vmwp_control_parse_config(m, cfg, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "config: %s\n", err);
        ASSERT_EQ(r, 0);
        return m;
}

static inline void control_new_fds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                ASSERT_GE(fds[i] = eventfd(0, EFD_CLOEXEC), 0);
}

static inline bool control_fd_is_open(int fd) {
        return fcntl(fd, F_GETFD) >= 0;
}
