// SPDX-License-Identifier: MIT
/* The worker's guest events (vmwp/vm-ic.c): each change flag is taken
 * once. The display flag was never cleared, so after the guest's first
 * mode every pass of the main loop (a heartbeat, a KVP scan, a memory
 * report) sent vmms another "display" event (issue 60). */
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/test.h"
#include "vmwp/vm-internal.h"

static struct vmwp_vm vm;

static void raise_event(void) {
        ASSERT_EQ(write(vm.guest_event_fd, &(uint64_t){ 1 }, sizeof(uint64_t)), (ssize_t)sizeof(uint64_t));
}

TEST(each_change_is_taken_once) {
        pthread_mutex_init(&vm.guest_lock, NULL);
        vm.guest_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_GE(vm.guest_event_fd, 0);
        struct vmwp_guest_events g;
        vm.guest.display_changed = vm.guest.memory_changed = vm.guest.heartbeat_changed = true;
        raise_event();
        vmwp_vm_take_guest_events(&vm, &g);
        ASSERT_TRUE(g.display_changed);
        ASSERT_TRUE(g.memory_changed);
        ASSERT_TRUE(g.heartbeat_changed);
        /* Something else happens: only that is news. */
        vm.guest.kvp_changed = true;
        raise_event();
        vmwp_vm_take_guest_events(&vm, &g);
        ASSERT_TRUE(g.kvp_changed);
        ASSERT_FALSE(g.display_changed);
        ASSERT_FALSE(g.memory_changed);
        ASSERT_FALSE(g.heartbeat_changed);
        close(vm.guest_event_fd);
        pthread_mutex_destroy(&vm.guest_lock);
}

TEST_MAIN();
