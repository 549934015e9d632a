// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "vmms/names.h"

char *vmms_vm_path(const struct guid *id, char buf[static VMMS_VM_PATH_MAX]) {
        char s[GUID_STRING_MAX];
        guid_to_string(id, s);
        /* '-' is not allowed in object path elements (D-Bus spec). */
        for (char *p = s; *p; p++)
                if (*p == '-')
                        *p = '_';
        snprintf(buf, VMMS_VM_PATH_MAX, "%s/%s", VMMS_VM_PATH_PREFIX, s);
        return buf;
}

int vmms_vm_path_to_id(const char *path, struct guid *id) {
        static const char prefix[] = VMMS_VM_PATH_PREFIX "/";
        char s[GUID_STRING_MAX];
        if (!path || strncmp(path, prefix, sizeof prefix - 1) != 0)
                return -EINVAL;
        path += sizeof prefix - 1;
        if (strlen(path) != GUID_STRING_MAX - 1)
                return -EINVAL;
        for (size_t i = 0; i < GUID_STRING_MAX - 1; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash != (path[i] == '_'))
                        return -EINVAL;
                s[i] = dash ? '-' : path[i];
        }
        s[GUID_STRING_MAX - 1] = 0;
        /* Only the canonical lowercase form, so that one VM has one path. */
        for (size_t i = 0; s[i]; i++)
                if (s[i] >= 'A' && s[i] <= 'F')
                        return -EINVAL;
        return guid_from_string(s, id);
}

bool vmms_name_is_id_like(const char *name) {
        struct guid g;
        return strlen(name) == GUID_STRING_MAX - 1 && guid_from_string(name, &g) == 0;
}

int vmms_vm_ref_parse(const char *s, struct guid *id) {
        if (!s || !*s)
                return -EINVAL;
        if (vmms_name_is_id_like(s))
                return guid_from_string(s, id) < 0 ? -EINVAL : VMMS_VM_REF_ID;
        return vm_name_is_valid(s) ? VMMS_VM_REF_NAME : -EINVAL;
}
