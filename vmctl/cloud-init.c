// SPDX-License-Identifier: MIT
/* vmctl/cloud-init.h: --cloud-init's files read and sent as bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fd-util.h"
#include "common/macro.h"
#include "vmctl/cloud-init.h"

/* The file's first CLOUD_INIT_FILE_MAX + 1 bytes: anything may be given
 * (a pipe from <(...) too); the bound is vmms's to state. */
static int read_bounded(const char *path, char **out, size_t *len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        _cleanup_free_ char *buf = malloc(CLOUD_INIT_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_full(fd, buf, CLOUD_INIT_FILE_MAX + 1);
        if (n < 0)
                return (int)n;
        *len = (size_t)n;
        *out = TAKE_PTR(buf);
        return 0;
}

static int add_file(struct vmctl_cloud_init *ci, const char *key, const char *path, char *err, size_t errlen) {
        int f = cloud_init_file_from_name(key);
        if (f < 0)
                return snprintf(err, errlen, "--cloud-init: '%s' is not a seed file (user-data, meta-data, "
                                "network-config)", key), -EINVAL;
        if (ci->data[f])
                return snprintf(err, errlen, "--cloud-init: %s given twice", key), -EINVAL;
        if (!path[0])
                return snprintf(err, errlen, "--cloud-init: %s needs a file", key), -EINVAL;
        int r = read_bounded(path, &ci->data[f], &ci->len[f]);
        if (r < 0)
                return snprintf(err, errlen, "--cloud-init: %s %s: %s", key, path, strerror(-r)), r;
        return 0;
}

int vmctl_cloud_init_parse(const char *arg, struct vmctl_cloud_init *out, char *err, size_t errlen) {
        _cleanup_free_ char *s = strdup(arg);
        char *save = NULL;
        int r = 0;
        *out = (struct vmctl_cloud_init){ 0 };
        if (!s)
                return -ENOMEM;
        bool first = true;
        for (char *t = strtok_r(s, ",", &save); r == 0 && t; t = strtok_r(NULL, ",", &save), first = false) {
                char *eq = strchr(t, '=');
                if (eq) {
                        *eq = 0;
                        r = add_file(out, t, eq + 1, err, errlen);
                } else if (first) {
                        r = add_file(out, "user-data", t, err, errlen);
                } else {
                        snprintf(err, errlen, "--cloud-init: '%s': expected meta-data=FILE or network-config=FILE", t);
                        r = -EINVAL;
                }
        }
        if (r == 0 && !out->data[CLOUD_INIT_USER_DATA]) {
                snprintf(err, errlen, "--cloud-init: needs the user-data file first (USER_DATA[,meta-data=F]"
                         "[,network-config=F])");
                r = -EINVAL;
        }
        if (r < 0)
                vmctl_cloud_init_done(out);
        return r;
}

void vmctl_cloud_init_done(struct vmctl_cloud_init *ci) {
        for (size_t i = 0; i < CLOUD_INIT_FILES; i++) {
                free(ci->data[i]);
                ci->data[i] = NULL;
        }
}

int vmctl_cloud_init_append(sd_bus_message *m, const struct vmctl_cloud_init *ci) {
        int r = sd_bus_message_open_container(m, 'a', "{say}");
        for (size_t i = 0; r >= 0 && i < CLOUD_INIT_FILES; i++) {
                if (!ci->data[i])
                        continue;
                if ((r = sd_bus_message_open_container(m, 'e', "say")) >= 0 &&
                    (r = sd_bus_message_append(m, "s", cloud_init_file_name((enum cloud_init_file)i))) >= 0 &&
                    (r = sd_bus_message_append_array(m, 'y', ci->data[i], ci->len[i])) >= 0)
                        r = sd_bus_message_close_container(m);
        }
        return r < 0 ? r : sd_bus_message_close_container(m);
}
