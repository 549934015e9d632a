// SPDX-License-Identifier: MIT
/* vmctl's flag -> configuration building and JSON merge patches. Input:
 * lines; "flag=value" lines are applied with vmctl_config_set(), a line
 * "patch=JSON" is merged (RFC 7386). A result that vm_config_parse()
 * accepts must survive a serialise/parse round trip. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "vmctl/config-build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply_line(json_object **cfg, char *line) {
        static const struct vmctl_build_ctx ctx = { .cwd = "/work", .mac_random = { 1, 2, 3 } };
        char err[300];
        char *eq = strchr(line, '=');
        if (!eq)
                return;
        *eq = 0;
        if (!strcmp(line, "patch")) {
                json_object *p = json_tokener_parse(eq + 1);
                if (p)
                        (void)vmctl_merge_patch(cfg, p);
                json_object_put(p);
        } else if (*cfg && vmctl_config_set(*cfg, line, eq + 1, &ctx, err, sizeof err) < 0 && strncmp(err, "--", 2))
                abort(); /* errors name the flag */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        json_object *cfg = json_object_new_object();
        struct vm_config *a = malloc(sizeof *a), *b = malloc(sizeof *b);
        char err[300];
        if (!s || !cfg || !a || !b)
                goto out;
        memcpy(s, data, size);
        s[size] = 0;
        for (char *save = NULL, *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                apply_line(&cfg, l);
        const char *json = cfg ? json_object_to_json_string(cfg) : NULL;
        if (json && vm_config_parse(json, strlen(json), a, err, sizeof err) == 0) {
                char *out = vm_config_to_json(a);
                if (!out || vm_config_parse(out, strlen(out), b, err, sizeof err) < 0 || memcmp(a, b, sizeof *a))
                        abort();
                free(out);
        }
out:
        json_object_put(cfg);
        free(s), free(a), free(b);
        return 0;
}
