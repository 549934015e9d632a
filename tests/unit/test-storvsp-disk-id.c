// SPDX-License-Identifier: MIT
/* What a guest reads as its SCSI disks' identity (vmwp/disk-id.h,
 * docs/storvsp.md "Disk identity"): the VPD 80h serial and 83h NAA id of
 * each LUN, stable for a VM and distinct across its disks, IDE included.
 * The VPD pages of a LUN vmwp configures are read back through the scsi
 * target as sd and udev's scsi_id read them. */
#include <stdio.h>
#include <string.h>

#include "common/test.h"
#include "vmwp/disk-id.h"
#include "vmwp/ide-vmbus.h"

static uint8_t data[SCSI_DATA_IN_MAX];

static void vpd(struct scsi_lun *lun, uint8_t page, struct scsi_result *r) {
        const uint8_t cdb[6] = { SCSI_OP_INQUIRY, 1, page, 0, 255, 0 };
        struct scsi_cmd cmd = { .cdb = cdb, .cdb_len = 6, .xfer_len = 255, .data_in = data };
        ASSERT_OK(scsi_execute(lun, &cmd, r));
        ASSERT_EQ(r->action, SCSI_DONE);
        ASSERT_EQ(r->st.status, SCSI_STATUS_GOOD);
        ASSERT_EQ(data[1], page);
}

static uint64_t be64(const uint8_t *p) {
        uint64_t v = 0;
        for (unsigned i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

TEST(serial_is_stable_and_names_the_location) {
        struct guid a, b;
        ASSERT_OK(guid_from_string("01234567-89ab-cdef-0123-456789abcdef", &a));
        ASSERT_OK(guid_from_string("01234567-89ab-cdef-0123-456789abcdee", &b)); /* same first 8 bytes */
        char s[33], t[33];
        vmwp_scsi_disk_serial(&a, 3, 63, s, sizeof s);
        vmwp_scsi_disk_serial(&a, 3, 63, t, sizeof t);
        ASSERT_STREQ(s, t);
        ASSERT_EQ(strlen(s), 21u); /* the longest: 16 + "-3-63" */
        ASSERT_STREQ(s + 16, "-3-63");
        char want[20];
        snprintf(want, sizeof want, "%016llX", (unsigned long long)vmwp_vm_id_hash(&a));
        ASSERT_EQ(memcmp(s, want, 16), 0);
        vmwp_scsi_disk_serial(&b, 3, 63, t, sizeof t);
        ASSERT_NE(strcmp(s, t), 0); /* the whole id counts */
        vmwp_scsi_disk_serial(&a, 0, 1, t, sizeof t);
        ASSERT_NE(strcmp(s, t), 0);
}

/* Every SCSI location and every IDE slot of one VM has its own NAA id,
 * none 0, all within the designator's 60 bits; another VM's differ. */
TEST(naa_ids_are_distinct_across_the_vms_disks) {
        struct guid a, b;
        ASSERT_OK(guid_from_string("7f0c2a6e-5d1b-4c3a-9e8f-0a1b2c3d4e5f", &a));
        ASSERT_OK(guid_from_string("7f0c2a6e-5d1b-4c3a-9e8f-0a1b2c3d4e60", &b));
        enum { N = VM_SCSI_CONTROLLERS_MAX * VM_SCSI_LUNS_MAX + 4 };
        static uint64_t ids[N];
        unsigned n = 0;
        for (unsigned c = 0; c < VM_SCSI_CONTROLLERS_MAX; c++)
                for (unsigned l = 0; l < VM_SCSI_LUNS_MAX; l++) {
                        ids[n] = vmwp_scsi_disk_naa(&a, c, l);
                        ASSERT_EQ(ids[n], vmwp_scsi_disk_naa(&a, c, l));
                        ASSERT_NE(ids[n], vmwp_scsi_disk_naa(&b, c, l));
                        n++;
                }
        for (unsigned slot = 0; slot < 4; slot++)
                ids[n++] = vmwp_ide_disk_naa(&a, slot);
        for (unsigned i = 0; i < n; i++) {
                ASSERT_NE(ids[i], 0ull);
                ASSERT_EQ(ids[i] >> 60, 0ull);
                for (unsigned k = i + 1; k < n; k++)
                        ASSERT_NE(ids[i], ids[k]);
        }
}

/* The LUN vmwp attaches (vmwp_vm_scsi_attach) answers VPD 80h with the
 * serial and VPD 83h with the T10 vendor id and NAA 3h designators. */
TEST(vpd_pages_carry_the_identity) {
        struct guid id;
        ASSERT_OK(guid_from_string("7f0c2a6e-5d1b-4c3a-9e8f-0a1b2c3d4e5f", &id));
        struct vm_disk_config dc = { .bus = VM_DISK_SCSI, .controller = 1, .lun = 2 };
        struct disk_info info = { .size = 8 << 20, .block_size = 512 };
        struct scsi_lun_config lc;
        vmwp_scsi_lun_config(&id, &dc, &info, &lc);
        ASSERT_EQ(lc.n_blocks, 16384ull);
        struct scsi_lun lun;
        ASSERT_OK(scsi_lun_init(&lun, &lc));
        char serial[33];
        vmwp_scsi_disk_serial(&id, 1, 2, serial, sizeof serial);
        size_t n = strlen(serial);
        struct scsi_result r;
        vpd(&lun, 0x80, &r);
        ASSERT_EQ((size_t)data[3], n);
        ASSERT_EQ(memcmp(data + 4, serial, n), 0);
        vpd(&lun, 0x83, &r);
        ASSERT_EQ(data[5] & 0xf, 0x01); /* T10 vendor id: "Msft    " + serial */
        ASSERT_EQ(memcmp(data + 8, "Msft    ", 8), 0);
        ASSERT_EQ(memcmp(data + 16, serial, n), 0);
        const uint8_t *naa = data + 8 + 8 + n;
        ASSERT_EQ(naa[1] & 0xf, 0x03); /* NAA */
        ASSERT_EQ(naa[3], 8);
        ASSERT_EQ(be64(naa + 4), 3ull << 60 | vmwp_scsi_disk_naa(&id, 1, 2));
}

int main(int argc, char **argv) {
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
