// SPDX-License-Identifier: MIT
/* The built-in test guest (vsc-guest.elf) straight on vid and /dev/kvm,
 * without vmwp (test-guest-host.h): it boots, reaches CPL3 and back, rings
 * the doorbell from CPL0 and CPL3 (each ring counted by a KVM ioeventfd, no
 * exit to user space) and powers off; the probe figures are printed. */
#include <sys/eventfd.h>

#include "hvshim/hvshim.h"
#include "tests/component/test-guest-host.h"

#define DOORBELL_CONN 0x2001u

struct doorbell {
        int efd;
        struct hvshim *hv;
};

static void doorbell_setup(struct guest_host *h, void *opaque) {
        struct doorbell *d = opaque;
        ASSERT_OK(vid_ioeventfd_assign(h->p, true, VMSTACK_DOORBELL_PORT, 4, DOORBELL_CONN, d->efd));
}

static void doorbell_teardown(struct guest_host *h, void *opaque) {
        struct doorbell *d = opaque;
        ASSERT_OK(vid_ioeventfd_deassign(h->p, true, VMSTACK_DOORBELL_PORT, 4, DOORBELL_CONN, d->efd));
}

static int run_guest(struct guest_host *h, const char *cmdline, int efd) {
        struct doorbell d = { .efd = efd };
        struct guest_host_hooks hooks = { .setup = doorbell_setup, .teardown = doorbell_teardown, .opaque = &d };
        return guest_host_run(h, cmdline, &hooks);
}

/* With hvshim: the guest sees Hyper-V, and HvSignalEvent through hvshim's
 * hypercall page lands in the same registered doorbell eventfd. */
static void hv_setup(struct guest_host *h, void *opaque) {
        struct doorbell *d = opaque;
        ASSERT_OK(hvshim_create(h->p, NULL, &d->hv));
        ASSERT_OK(hvshim_register_event(d->hv, DOORBELL_CONN, d->efd));
}

static void hv_teardown(struct guest_host *h, void *opaque) {
        struct doorbell *d = opaque;
        hvshim_destroy(d->hv);
}

TEST(hypercall_page_signal_with_hvshim) {
        struct guest_host h;
        struct doorbell d = { .efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
        struct guest_host_hooks hooks = { .setup = hv_setup, .teardown = hv_teardown, .opaque = &d };
        uint64_t n = 0;
        char cmd[128];
        snprintf(cmd, sizeof cmd, "vsc.mode=probe vsc.probe=doorbell,hvcall_signal,user_call vsc.probe_doorbell=0x%x",
                 DOORBELL_CONN);
        ASSERT_EQ(guest_host_run(&h, cmd, &hooks), VMWP_EXIT_POWEROFF);
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC hyperv=present vendor=Microsoft_Hv "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC clock=hv-frequency-msrs "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC probe=hvcall_signal cpl=0 iterations=50 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC result=ok status=0\n"));
        ASSERT_EQ(read(d.efd, &n, 8), 8);
        ASSERT_EQ(n, 150ull); /* 50 doorbells at CPL0, 50 at CPL3, 50 hypercalls */
        close(d.efd);
}

TEST(boot_and_power_off) {
        struct guest_host h;
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ASSERT_EQ(run_guest(&h, "vsc.mode=boot", efd), VMWP_EXIT_POWEROFF);
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC booted=1 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC result=ok status=0\n"));
        ASSERT_NOT_NULL(strstr(h.out, "acpi=defaults pm1a_cnt=0x604 pm_tmr=0x608"));
        ASSERT_EQ(h.markers[VMSTACK_MARKER_FIRST_INSN], 1u);
        ASSERT_EQ(h.markers[VMSTACK_MARKER_BOOTED], 1u);
        close(efd);
}

TEST(cpl3_doorbell_through_ioeventfd) {
        struct guest_host h;
        char cmd[128];
        uint64_t n = 0;
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        snprintf(cmd, sizeof cmd, "vsc.mode=probe vsc.probe_doorbell=0x%x", DOORBELL_CONN);
        ASSERT_EQ(run_guest(&h, cmd, efd), VMWP_EXIT_POWEROFF);
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC probe=doorbell cpl=0 iterations=50 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC probe=doorbell cpl=3 iterations=50 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC probe=user_call cpl=0 "));
        ASSERT_NOT_NULL(strstr(h.out, "\nVSC result=ok status=0\n"));
        /* every ring, from CPL0 and from CPL3, was counted inside KVM */
        ASSERT_EQ(read(efd, &n, 8), 8);
        ASSERT_EQ(n, 100ull);
        close(efd);
}

int main(int argc, char **argv) {
        TEST_REQUIRE_KVM();
        return test_run_all_(argc > 1 ? argv[1] : NULL);
}
