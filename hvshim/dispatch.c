// SPDX-License-Identifier: MIT
/* The two ports behind the hypercall page (hv/vmstack.h; the stub is in
 * hvshim/decode.h): hypercalls arriving as IN on the hypercall port, and
 * doorbell OUTs that no ioeventfd matched.
 *
 * Port-I/O exit facts this relies on (tests/component/test-hvshim.c,
 * pio_exit_rip, checks them on the running KVM):
 *  - at an IN exit RIP points at the IN; KVM stores the data and steps
 *    past it on the next entry;
 *  - at an OUT exit RIP points at the OUT (VT-x/SVM fast path) or already
 *    past it (KVM's instruction emulator; PVM at CPL0 and CPL3);
 *  - a RIP written by the host during an OUT exit is where the guest
 *    resumes (KVM skips its own step when RIP changed). */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "hv/vmstack.h"
#include "internal.h"

#define VECTOR_UD 6

static uint16_t post_message(struct hvshim *hv, unsigned vp_index, uint64_t gpa) {
        HV_STAT_INC(hv, post_messages);
        struct hv_input_post_message in;
        uint16_t st = hv_hypercall_check_gpa(gpa, sizeof in);
        if (st != HV_STATUS_SUCCESS)
                return st;
        /* Not RAM is "outside the GPA space" for us: INVALID_ALIGNMENT
         * (TLFS common status codes). One copy, then parse the copy. */
        if (gm_read(hv->p, gpa, &in, sizeof in) < 0)
                return HV_STATUS_INVALID_ALIGNMENT;
        struct hv_post_message m;
        st = hv_post_message_parse(&in, &m);
        if (st != HV_STATUS_SUCCESS)
                return st;
        return hvshim_deliver_message(hv, vp_index, &m);
}

static uint16_t signal_event(struct hvshim *hv, bool fast, uint64_t input) {
        HV_STAT_INC(hv, signal_events_user);
        if (!fast) {
                uint64_t gpa = input;
                uint16_t st = hv_hypercall_check_gpa(gpa, sizeof input);
                if (st != HV_STATUS_SUCCESS)
                        return st;
                if (gm_read(hv->p, gpa, &input, sizeof input) < 0)
                        return HV_STATUS_INVALID_ALIGNMENT;
        }
        struct hv_signal_event ev;
        uint16_t st = hv_signal_event_parse(input, &ev);
        if (st != HV_STATUS_SUCCESS)
                return st;
        /* One eventfd per connection: the flag number (validated above) is
         * relative to the port's first flag, which the owner knows. */
        return hvshim_deliver_signal(hv, ev.connection_id);
}

uint16_t hvshim_hypercall(struct hvshim *hv, unsigned vp_index, uint64_t control, uint64_t input,
                          uint64_t output) {
        (void)output; /* neither call has output parameters */
        struct hv_hypercall_control c;
        uint16_t st = hv_hypercall_decode(control, &c);
        if (st != HV_STATUS_SUCCESS)
                return st;
        if (c.code == HVCALL_POST_MESSAGE)
                return post_message(hv, vp_index, input);
        return signal_event(hv, c.fast, input);
}

/* A hypercall at CPL > 0 raises #UD (TLFS). It is a fault: the guest must
 * see RIP at the instruction and its registers unchanged, so complete the
 * port access now and put the registers back before queueing #UD. */
static void raise_ud(struct hvshim *hv, struct vid_vp *vp, const struct vid_regs *at_exit, uint64_t rip) {
        HV_STAT_INC(hv, hypercall_errors);
        struct vid_regs r = *at_exit;
        r.rip = rip;
        if (vid_vp_complete_io(vp) < 0 || vid_vp_set_regs(vp, &r) < 0)
                return;
        (void)vid_vp_inject_exception(vp, VECTOR_UD, false, 0);
}

static void hypercall_port_read(void *opaque, struct vid_vp *vp, uint64_t offset, void *data, unsigned len) {
        struct hvshim *hv = opaque;
        struct vid_regs r;
        if (offset != 0 || len != 4 || vid_vp_get_regs(vp, &r) < 0)
                return; /* not the stub's IN: reads all ones */
        if (vid_vp_cpl(vp) != 0) {
                raise_ud(hv, vp, &r, r.rip);
                return;
        }
        HV_STAT_INC(hv, hypercalls);
        /* The stub moved the input GPA / first fast input from RDX to R9. */
        uint32_t status = hvshim_hypercall(hv, vid_vp_index(vp), r.rcx, r.r9, r.r8);
        if (status != HV_STATUS_SUCCESS)
                HV_STAT_INC(hv, hypercall_errors);
        /* IN eax zero-extends: reps completed (bits 43:32) read as 0. */
        memcpy(data, &status, sizeof status);
}

/* A doorbell for a connection id without an ioeventfd: the fast
 * HvSignalEvent of an unregistered id. Answer like the slow path would, in
 * RAX, and resume at the stub's RET. */
static void doorbell_write(void *opaque, struct vid_vp *vp, uint64_t offset, const void *data, unsigned len) {
        struct hvshim *hv = opaque;
        struct vid_regs r;
        if (offset != 0 || len != 4 || vid_vp_get_regs(vp, &r) < 0)
                return;
        uint64_t in_page = r.rip & (HV_HYP_PAGE_SIZE - 1);
        /* Only from our stub (RIP at its OUT or just past it, see the top of
         * this file); any other OUT here is dropped like an unclaimed port. */
        if (in_page != HV_STUB_OUT_OFFSET && in_page != HV_STUB_OUT_OFFSET + 1)
                return;
        uint64_t page = r.rip - in_page;
        if (vid_vp_cpl(vp) != 0) {
                raise_ud(hv, vp, &r, page + HV_STUB_OUT_OFFSET);
                return;
        }
        HV_STAT_INC(hv, hypercalls);
        uint32_t conn;
        memcpy(&conn, data, sizeof conn);
        r.rax = signal_event(hv, true, conn);
        if (r.rax != HV_STATUS_SUCCESS)
                HV_STAT_INC(hv, hypercall_errors);
        r.rip = page + HV_STUB_RET_OFFSET;
        (void)vid_vp_set_regs(vp, &r);
}

static const struct vid_io_ops hypercall_port_ops = { .read = hypercall_port_read };
static const struct vid_io_ops doorbell_ops = { .write = doorbell_write };

int hvshim_register_ports(struct hvshim *hv) {
        int r = vid_register_pio(hv->p, VMSTACK_HYPERCALL_PORT, 4, &hypercall_port_ops, hv);
        if (r < 0)
                return r;
        return vid_register_pio(hv->p, VMSTACK_DOORBELL_PORT, 4, &doorbell_ops, hv);
}
