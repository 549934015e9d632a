// SPDX-License-Identifier: MIT
/* Control requests from vmms (any JSON a peer can send) through the worker's
 * request handler with a stub VM: every request gets a reply object with
 * "ok", and the config parser/fd assignment never trusts the message. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "vmwp/control.h"
#include "vmwp/vm.h"

static int ok(void *o) {
        return 0;
}
static bool no(void *o) {
        return false;
}
static void nothing(void *o) {
}
static void fields(void *o, struct json_object *into) {
        json_object_object_add(into, "name", json_object_new_string("fuzz"));
}
static int stats(void *o, struct json_object *into) {
        return 0;
}

static int vss(void *o, uint8_t op) {
        return op == 5 ? 0 : -EBUSY; /* FREEZE goes, the others are refused */
}

static int memory(void *o, bool set, uint64_t target, struct json_object *into) {
        if (set && target > (1ull << 50))
                abort(); /* the handler bounds it */
        return 0;
}

static const struct vmwp_control_ops ops = { .pause = ok, .resume = ok, .is_paused = no, .stop = nothing,
                                             .power_button = nothing, .status = fields, .stats = stats,
                                             .vss = vss, .memory = memory };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        json_tokener *tok = json_tokener_new_ex(32);
        if (!tok)
                return 0;
        struct json_object *req = json_tokener_parse_ex(tok, (const char *)data, (int)size);
        json_tokener_free(tok);
        if (!req)
                return 0;
        const char *state;
        struct json_object *rep = vmwp_control_handle(&ops, NULL, req, &state);
        struct json_object *okv;
        if (!rep || !json_object_object_get_ex(rep, "ok", &okv))
                abort();
        json_object_put(rep);
        struct vm_config *cfg = malloc(sizeof *cfg);
        char err[256];
        if (cfg && vmwp_control_parse_config(req, cfg, err, sizeof err) == 0) {
                struct vmwp_vm_options opt;
                vmwp_vm_options_init(&opt);
                int fds[2] = { -1, -1 };
                (void)vmwp_control_assign_fds(cfg, req, fds, 2, &opt, err, sizeof err);
        }
        free(cfg);
        json_object_put(req);
        return 0;
}
