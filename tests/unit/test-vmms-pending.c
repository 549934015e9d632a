// SPDX-License-Identifier: MIT
/* The VM's pending operations (vmms/core/pending.h): each kind's slot
 * holds its call and its feature's state, its call handed back only to
 * the end of that kind; the one table says which kind in progress refuses
 * which request, and how the refusal reads. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "common/test.h"
#include "vmms/core/daemon.h"
#include "vmms/core/pending.h"
#include "vmms/names.h"

/* A method call on a bus that is never connected to a daemon (its
 * socket's other end only). */
static sd_bus_message *new_call(sd_bus **bus, int *peer) {
        int sv[2];
        sd_bus_message *m = NULL;
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
        ASSERT_OK(sd_bus_new(bus));
        ASSERT_OK(sd_bus_set_fd(*bus, sv[0], sv[0]));
        ASSERT_OK(sd_bus_start(*bus));
        ASSERT_OK(sd_bus_message_new_method_call(*bus, &m, "org.vmstack.Test", "/", "org.vmstack.Test", "Op"));
        *peer = sv[1];
        return m;
}

static bool none_pending(const struct vmms_pending *p) {
        for (unsigned k = 0; k < VMMS_PENDING_KINDS; k++)
                if (vmms_pending_is(p, k) || vmms_pending_data(p, k))
                        return false;
        return true;
}

TEST(kinds_side_by_side) {
        sd_bus *bus;
        int peer;
        sd_bus_message *m = new_call(&bus, &peer);
        struct vmms_pending p = { 0 };
        int state = 7;
        ASSERT_TRUE(none_pending(&p));
        vmms_pending_begin(&p, VMMS_PENDING_FCOPY, m, NULL);
        vmms_pending_begin(&p, VMMS_PENDING_HOTPLUG, NULL, &state);
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_FCOPY));
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_HOTPLUG));
        ASSERT_FALSE(vmms_pending_is(&p, VMMS_PENDING_SAVE));
        ASSERT_TRUE(vmms_pending_data(&p, VMMS_PENDING_HOTPLUG) == &state);
        ASSERT_NULL(vmms_pending_data(&p, VMMS_PENDING_CHECKPOINT));
        /* The end of a kind not in progress hands back nothing and keeps
         * the others. */
        ASSERT_NULL(vmms_pending_end(&p, VMMS_PENDING_SAVE));
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_FCOPY));
        /* Its own end hands back the call (a reference of the slot's),
         * and only its own. */
        sd_bus_message *c = vmms_pending_end(&p, VMMS_PENDING_FCOPY);
        ASSERT_TRUE(c == m);
        ASSERT_FALSE(vmms_pending_is(&p, VMMS_PENDING_FCOPY));
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_HOTPLUG));
        ASSERT_NULL(vmms_pending_end(&p, VMMS_PENDING_HOTPLUG)); /* its request held the call */
        ASSERT_NULL(vmms_pending_data(&p, VMMS_PENDING_HOTPLUG));
        ASSERT_TRUE(none_pending(&p));
        sd_bus_message_unref(c);
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus); /* no flush: nobody answers its authentication */
        close(peer);
}

TEST(without_a_call_and_dropped) {
        sd_bus *bus;
        int peer;
        sd_bus_message *m = new_call(&bus, &peer);
        struct vmms_pending p = { 0 };
        /* A save of vmms's own has no caller to answer. */
        vmms_pending_begin(&p, VMMS_PENDING_SAVE, NULL, NULL);
        ASSERT_TRUE(vmms_pending_is(&p, VMMS_PENDING_SAVE));
        ASSERT_NULL(vmms_pending_end(&p, VMMS_PENDING_SAVE));
        ASSERT_TRUE(none_pending(&p));
        /* The VM goes with calls pending: the slots let go of them. */
        vmms_pending_begin(&p, VMMS_PENDING_SAVE, m, NULL);
        vmms_pending_begin(&p, VMMS_PENDING_CHECKPOINT, m, &p);
        vmms_pending_drop(&p);
        ASSERT_TRUE(none_pending(&p));
        sd_bus_message_unref(m);
        sd_bus_close_unref(bus); /* no flush: nobody answers its authentication */
        close(peer);
}

/* The refusal of ask with only kind in progress ("" when none). */
static const char *refusal(enum vmms_pending_kind kind, unsigned ask) {
        static char msg[160];
        struct vmms_pending p = { 0 };
        vmms_pending_begin(&p, kind, NULL, NULL);
        int r = vmms_pending_refusal(&p, ask, msg, sizeof msg);
        if (r == 0)
                msg[0] = 0;
        else
                ASSERT_EQ(r, -EBUSY);
        return msg;
}

TEST(what_each_kind_refuses) {
        struct vmms_pending none = { 0 };
        char msg[160];
        for (unsigned a = 0; a < VMMS_ASK_MAX; a++)
                ASSERT_EQ(vmms_pending_refusal(&none, a, msg, sizeof msg), 0);
        /* A checkpoint operation or an import moves the disks and the
         * state and installs the configuration it began from: everything
         * waits but Kill and the console (an Update would be undone). */
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_OP_START), "a checkpoint operation is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_OP_SAVE), "a checkpoint operation is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_OP_ATTACH_DISK), "a checkpoint operation is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_ASK_CHECKPOINT), "a checkpoint operation is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_OP_KILL), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_OP_CONSOLE), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_ASK_UPDATE), "a checkpoint operation is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_IMPORT, VMMS_OP_IMPORT_SAVED), "an import of a saved state is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_IMPORT, VMMS_ASK_CHECKPOINT), "an import of a saved state is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_IMPORT, VMMS_OP_KILL), "");
        /* A file copy goes with no saved state, migration or checkpoint,
         * and one at a time; a device change may go beside it. */
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_OP_SAVE), "a file copy into it is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_OP_MIGRATE), "a file copy into it is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_OP_COPY_FILE), "a file copy into it is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_ASK_CHECKPOINT), "a file copy into it is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_OP_ATTACH_DISK), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_OP_CANCEL_FILE_COPY), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_FCOPY, VMMS_OP_STOP), "");
        /* A device change not answered yet: the next one, and whatever
         * carries the configuration, wait. */
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_OP_SAVE), "a change of its disks or NICs is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_OP_MIGRATE), "a change of its disks or NICs is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_ASK_CHECKPOINT), "a change of its disks or NICs is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_OP_ATTACH_DISK),
                     "another change of its disks or NICs is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_OP_SET_NIC_MIN_WEIGHT),
                     "another change of its disks or NICs is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_OP_COPY_FILE), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_OP_STOP), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_HOTPLUG, VMMS_ASK_UPDATE), "");
        /* A processor Update the worker has not applied: the next Update. */
        ASSERT_STREQ(refusal(VMMS_PENDING_PROCESSOR, VMMS_ASK_UPDATE),
                     "an earlier change of its processor settings is in progress");
        ASSERT_STREQ(refusal(VMMS_PENDING_PROCESSOR, VMMS_OP_SAVE), "");
        ASSERT_STREQ(refusal(VMMS_PENDING_PROCESSOR, VMMS_OP_ATTACH_DISK), "");
        /* A save: the VM is Saving, and the state table refuses. */
        for (unsigned a = 0; a < VMMS_ASK_MAX; a++)
                ASSERT_STREQ(refusal(VMMS_PENDING_SAVE, a), "");
        /* An ask out of the table is refused by nothing here. */
        ASSERT_STREQ(refusal(VMMS_PENDING_CHECKPOINT, VMMS_ASK_MAX), "");
}

TEST(the_first_kind_is_named_and_the_error_is_busy) {
        struct vm_config c = { 0 };
        struct vmms_vm vm = { .config = &c };
        strcpy(c.name, "web");
        int data = 0;
        vmms_pending_begin(&vm.op, VMMS_PENDING_HOTPLUG, NULL, &data);
        vmms_pending_begin(&vm.op, VMMS_PENDING_CHECKPOINT, NULL, &data);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        ASSERT_TRUE(vmms_pending_check(&vm, VMMS_OP_SAVE, &e) < 0);
        ASSERT_STREQ(e.name, VMMS_ERROR_BUSY);
        ASSERT_STREQ(e.message, "VM 'web': a checkpoint operation is in progress; try again when it is done");
        sd_bus_error_free(&e);
        ASSERT_EQ(vmms_pending_check(&vm, VMMS_OP_KILL, &e), 0);
        ASSERT_FALSE(sd_bus_error_is_set(&e));
        vmms_pending_drop(&vm.op);
}

TEST_MAIN();
