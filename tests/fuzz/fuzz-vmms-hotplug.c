// SPDX-License-Identifier: MIT
/* AttachDisk's and AttachNic's entries from any D-Bus caller
 * (vmms/hotplug/config.c), and the removals. Input: one byte that picks
 * the kind ('d' a disk, 'n' a NIC, else both) and which entry a removal
 * takes, then the entry's JSON text. Added to a VM with two disks and two
 * NICs (one NIC removed first, so that index 1's derived instance is
 * taken), an accepted entry leaves the others as they were, comes last,
 * and clashes with none (image, bus/controller/LUN, MAC, TAP, instance);
 * a refusal names a field; a removal moves the later entries down. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-check.h"
#include "vmms/hotplug.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base[] =
        "{\"name\":\"f\",\"id\":\"3f2a9c1d-0b7e-4c55-9a0e-7d2b1c4e5f60\",\"vcpus\":4,\"boot\":{\"kernel\":\"/p/k\"},"
        "\"disks\":[{\"path\":\"/p/a\"},{\"path\":\"/p/b.vhdx\",\"controller\":1,\"lun\":5,\"read_only\":true}],"
        "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\"},{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"t2\"},"
        "{\"mac\":\"00:15:5d:00:00:03\",\"queues\":4}]}";

static void check_disk(const struct vm_config *cur, const struct vm_config *out) {
        CHECK(out->n_disks == cur->n_disks + 1);
        CHECK(!memcmp(out->disks, cur->disks, cur->n_disks * sizeof cur->disks[0]));
        CHECK(out->n_nics == cur->n_nics && !memcmp(out->nics, cur->nics, cur->n_nics * sizeof cur->nics[0]));
        const struct vm_disk_config *d = &out->disks[cur->n_disks];
        for (uint32_t j = 0; j < cur->n_disks; j++) {
                CHECK(strcmp(d->path, cur->disks[j].path));
                CHECK(d->bus != cur->disks[j].bus || d->controller != cur->disks[j].controller ||
                      d->lun != cur->disks[j].lun);
        }
}

static void check_nic(const struct vm_config *cur, const struct vm_config *out) {
        CHECK(out->n_nics == cur->n_nics + 1);
        CHECK(!memcmp(out->nics, cur->nics, cur->n_nics * sizeof cur->nics[0]));
        CHECK(out->n_disks == cur->n_disks);
        const struct vm_nic_config *n = &out->nics[cur->n_nics];
        for (uint32_t j = 0; j < cur->n_nics; j++) {
                CHECK(memcmp(n->mac, cur->nics[j].mac, sizeof n->mac));
                CHECK(!n->tap[0] || strcmp(n->tap, cur->nics[j].tap));
                CHECK(!guid_equal(&n->instance, &cur->nics[j].instance));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct vm_config *cur = malloc(sizeof *cur), *out = malloc(sizeof *out);
        char err[1400];
        if (!cur || !out || !size)
                goto done;
        CHECK(vm_config_parse(base, strlen(base), cur, err, sizeof err) == 0);
        CHECK(vmms_config_remove_nic(cur, 0, cur, err, sizeof err) == 0);
        const char *entry = (const char *)data + 1;
        size_t len = size - 1;
        if (data[0] != 'n') {
                err[0] = 0;
                if (vmms_config_add_disk(cur, entry, len, out, err, sizeof err) == 0)
                        check_disk(cur, out);
                else
                        CHECK(strchr(err, ':'));
        }
        if (data[0] != 'd') {
                err[0] = 0;
                if (vmms_config_add_nic(cur, entry, len, out, err, sizeof err) == 0)
                        check_nic(cur, out);
                else
                        CHECK(strchr(err, ':'));
        }
        uint32_t i = data[0] % 4;
        if (vmms_config_remove_disk(cur, i, out, err, sizeof err) == 0) {
                CHECK(i < cur->n_disks && out->n_disks == cur->n_disks - 1);
                CHECK(!memcmp(out->disks + i, cur->disks + i + 1, (out->n_disks - i) * sizeof cur->disks[0]));
        } else {
                CHECK(i >= cur->n_disks);
        }
done:
        free(cur), free(out);
        return 0;
}
