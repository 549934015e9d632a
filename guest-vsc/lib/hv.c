// SPDX-License-Identifier: MIT
/* Hyper-V detection, the hypercall page and SynIC set-up, HvPostMessage
 * (docs/hyperv-guest-interface.md §1, §3). Runs at CPL0. */
#include "internal.h"

void vsc_bus_init(struct vsc_bus *bus, const struct vsc_ops *ops, void *ctx) {
        vsc_memset(bus, 0, sizeof *bus);
        bus->ops = ops;
        bus->ctx = ctx;
        bus->timeout_ns = VSC_DEFAULT_TIMEOUT_NS;
        bus->next_gpadl = VSC_GPADL_FIRST_HANDLE;
}

const char *vsc_bus_error(const struct vsc_bus *bus) {
        return bus->err;
}

int vsc_fail(struct vsc_bus *bus, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsc_vsnprintf(bus->err, sizeof bus->err, fmt, ap);
        va_end(ap);
        return r;
}

void *vsc_pages_alloc(struct vsc_bus *bus, size_t n) {
        return bus->ops->alloc_pages(bus->ctx, n);
}

void *vsc_pages_alloc_unzeroed(struct vsc_bus *bus, size_t n) {
        if (bus->ops->alloc_pages_unzeroed)
                return bus->ops->alloc_pages_unzeroed(bus->ctx, n);
        return bus->ops->alloc_pages(bus->ctx, n);
}

void vsc_pages_free(struct vsc_bus *bus, void *p, size_t n) {
        if (p)
                bus->ops->free_pages(bus->ctx, p, n);
}

int vsc_hv_detect(const struct vsc_ops *ops, void *ctx, struct vsc_hv_info *info, const char **why) {
        uint32_t r[4];
        vsc_memset(info, 0, sizeof *info);
        ops->cpuid(ctx, 1, 0, r);
        if (!(r[2] & (1u << 31))) {
                *why = "no hypervisor (CPUID.1:ECX[31] clear)";
                return -ENODEV;
        }
        ops->cpuid(ctx, HV_CPUID_VENDOR_AND_MAX, 0, r);
        info->max_leaf = r[0];
        vsc_memcpy(info->vendor, &r[1], 4);
        vsc_memcpy(info->vendor + 4, &r[2], 4);
        vsc_memcpy(info->vendor + 8, &r[3], 4);
        info->vendor[12] = '\0';
        for (int i = 0; i < 12; i++) /* keep the report line printable */
                if (info->vendor[i] < 0x20 || info->vendor[i] > 0x7e)
                        info->vendor[i] = '.';
        if (r[1] != HV_CPUID_SIGNATURE_EBX || r[2] != HV_CPUID_SIGNATURE_ECX || r[3] != HV_CPUID_SIGNATURE_EDX) {
                *why = "hypervisor vendor is not \"Microsoft Hv\"";
                return -ENODEV;
        }
        /* §1.1: the max leaf must lie in 0x40000005..0x4000FFFF. */
        if (r[0] < HV_CPUID_IMPLEMENT_LIMITS || r[0] > 0x4000ffffu) {
                *why = "Hyper-V max leaf out of range";
                return -ENODEV;
        }
        ops->cpuid(ctx, HV_CPUID_FEATURES, 0, r);
        info->features = r[0];
        info->priv_high = r[1];
        info->misc = r[3];
        ops->cpuid(ctx, HV_CPUID_ENLIGHTENMENT_INFO, 0, r);
        info->hints = r[0];
        if (!(info->features & HV_MSR_HYPERCALL_AVAILABLE) || !(info->features & HV_MSR_VP_INDEX_AVAILABLE)) {
                *why = "hypercall or VP index MSR not available";
                return -ENODEV;
        }
        *why = "";
        return 0;
}

static int hv_alloc_pages(struct vsc_bus *bus) {
        bus->hypercall_page = vsc_pages_alloc(bus, 1);
        bus->simp = vsc_pages_alloc(bus, 1);
        bus->siefp = vsc_pages_alloc(bus, 1);
        bus->post = vsc_pages_alloc(bus, 1);
        bus->monitor_pages = vsc_pages_alloc(bus, 2);
        bus->int_page = vsc_pages_alloc(bus, 1);
        if (!bus->hypercall_page || !bus->simp || !bus->siefp || !bus->post || !bus->monitor_pages ||
            !bus->int_page)
                return vsc_fail(bus, -ENOMEM, "out of pages for the hypercall/SynIC pages");
        return 0;
}

static void hv_free_pages(struct vsc_bus *bus) {
        vsc_pages_free(bus, bus->hypercall_page, 1);
        vsc_pages_free(bus, bus->simp, 1);
        vsc_pages_free(bus, bus->siefp, 1);
        vsc_pages_free(bus, bus->post, 1);
        vsc_pages_free(bus, bus->monitor_pages, 2);
        vsc_pages_free(bus, bus->int_page, 1);
        bus->hypercall_page = bus->post = NULL;
        bus->simp = NULL;
        bus->siefp = NULL;
        bus->monitor_pages = bus->int_page = NULL;
}

static uint64_t page_gpa(struct vsc_bus *bus, const void *p) {
        return bus->ops->virt_to_phys(bus->ctx, p);
}

/* §1.5: guest OS id first (TLFS: the hypercall page may not be enabled
 * while it is 0), then read-modify-write the hypercall MSR and read it back. */
static int hv_enable_hypercall(struct vsc_bus *bus) {
        const struct vsc_ops *o = bus->ops;
        o->wrmsr(bus->ctx, HV_X64_MSR_GUEST_OS_ID, VSC_GUEST_OS_ID);
        uint64_t v = o->rdmsr(bus->ctx, HV_X64_MSR_HYPERCALL);
        v = (v & HV_X64_MSR_HYPERCALL_RESERVED) | page_gpa(bus, bus->hypercall_page) |
            HV_X64_MSR_HYPERCALL_ENABLE;
        o->wrmsr(bus->ctx, HV_X64_MSR_HYPERCALL, v);
        if (!(o->rdmsr(bus->ctx, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_ENABLE))
                return vsc_fail(bus, -EIO, "hypercall MSR does not read back as enabled");
        return 0;
}

/* §3.1: SIMP, SIEFP, SINT2, then SCONTROL, each read-modify-write. */
static void hv_enable_synic(struct vsc_bus *bus) {
        const struct vsc_ops *o = bus->ops;
        void *c = bus->ctx;
        uint64_t v = o->rdmsr(c, HV_X64_MSR_SIMP);
        o->wrmsr(c, HV_X64_MSR_SIMP, (v & 0xffeull) | page_gpa(bus, bus->simp) | HV_SYNIC_SIMP_ENABLE);
        v = o->rdmsr(c, HV_X64_MSR_SIEFP);
        o->wrmsr(c, HV_X64_MSR_SIEFP, (v & 0xffeull) | page_gpa(bus, bus->siefp) | HV_SYNIC_SIMP_ENABLE);
        /* §1.8: auto-EOI only when the host does not recommend against it;
         * with the hint our ISR EOIs the local APIC itself. */
        bus->auto_eoi = !(bus->hv.hints & HV_DEPRECATING_AEOI_RECOMMENDED);
        v = o->rdmsr(c, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT);
        v &= ~(HV_SYNIC_SINT_VECTOR_MASK | HV_SYNIC_SINT_MASKED | HV_SYNIC_SINT_AUTO_EOI);
        v |= VSC_SINT_VECTOR | (bus->auto_eoi ? HV_SYNIC_SINT_AUTO_EOI : 0);
        o->wrmsr(c, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, v);
        v = o->rdmsr(c, HV_X64_MSR_SCONTROL);
        o->wrmsr(c, HV_X64_MSR_SCONTROL, v | HV_SYNIC_SCONTROL_ENABLE);
        bus->synic_enabled = true;
}

int vsc_hv_enable(struct vsc_bus *bus) {
        const char *why;
        int r = vsc_hv_detect(bus->ops, bus->ctx, &bus->hv, &why);
        if (r < 0)
                return vsc_fail(bus, r, "Hyper-V not detected: %s (vendor \"%s\")", why, bus->hv.vendor);
        r = hv_alloc_pages(bus);
        if (r < 0)
                goto fail;
        bus->vp_index = (uint32_t)bus->ops->rdmsr(bus->ctx, HV_X64_MSR_VP_INDEX);
        r = hv_enable_hypercall(bus);
        if (r < 0)
                goto fail;
        bus->hv_enabled = true;
        hv_enable_synic(bus);
        return 0;
fail:
        hv_free_pages(bus);
        return r;
}

void vsc_hv_disable(struct vsc_bus *bus) {
        const struct vsc_ops *o = bus->ops;
        void *c = bus->ctx;
        if (bus->synic_enabled) {
                /* Reverse order of §3.1, as Linux does on CPU offline. */
                uint64_t v = o->rdmsr(c, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT);
                o->wrmsr(c, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, v | HV_SYNIC_SINT_MASKED);
                o->wrmsr(c, HV_X64_MSR_SIMP, o->rdmsr(c, HV_X64_MSR_SIMP) & 0xffeull);
                o->wrmsr(c, HV_X64_MSR_SIEFP, o->rdmsr(c, HV_X64_MSR_SIEFP) & 0xffeull);
                o->wrmsr(c, HV_X64_MSR_SCONTROL, o->rdmsr(c, HV_X64_MSR_SCONTROL) & ~HV_SYNIC_SCONTROL_ENABLE);
                bus->synic_enabled = false;
        }
        if (bus->hv_enabled) {
                o->wrmsr(c, HV_X64_MSR_HYPERCALL, o->rdmsr(c, HV_X64_MSR_HYPERCALL) & HV_X64_MSR_HYPERCALL_RESERVED);
                bus->hv_enabled = false;
        }
        hv_free_pages(bus);
        bus->version = 0;
}

/* Busy-waits (idling) for ns: the back-off between HvPostMessage retries. */
static void post_backoff(struct vsc_bus *bus, uint64_t ns) {
        uint64_t until = bus->ops->now_ns(bus->ctx) + ns;
        while (bus->ops->now_ns(bus->ctx) < until)
                bus->ops->idle(bus->ctx, until);
}

int vsc_post_message(struct vsc_bus *bus, uint32_t conn_id, const void *msg, size_t len, bool fail_on_bad_conn) {
        if (!bus->hv_enabled)
                return vsc_fail(bus, -ENOTCONN, "HvPostMessage before the hypercall page is enabled");
        if (len > HV_MESSAGE_PAYLOAD_BYTES || len < sizeof(struct vmbus_channel_message_header))
                return vsc_fail(bus, -EMSGSIZE, "channel message of %zu bytes", len);
        if (conn_id == 0)
                conn_id = bus->msg_conn_id;
        uint32_t type = ((const struct vmbus_channel_message_header *)msg)->msgtype;
        uint64_t delay = 1000; /* 1 us doubling (§1.7), never past the wait deadline */
        uint64_t deadline = vsc_deadline(bus);
        for (unsigned attempt = 0; attempt <= VSC_POST_MAX_RETRIES; attempt++) {
                struct hv_input_post_message *in = bus->post;
                vsc_memset(in, 0, sizeof *in);
                in->connection_id = conn_id & HV_CONNECTION_ID_MASK;
                in->message_type = HVMSG_VMBUS;
                in->payload_size = (uint32_t)len;
                vsc_memcpy(in->payload, msg, len);
                uint64_t st = bus->ops->hypercall(bus->ctx, bus->hypercall_page, HVCALL_POST_MESSAGE,
                                                  page_gpa(bus, in), 0) & 0xffff;
                if (st == HV_STATUS_SUCCESS)
                        return 0;
                if (st == HV_STATUS_INVALID_CONNECTION_ID && fail_on_bad_conn)
                        return vsc_fail(bus, -ECONNREFUSED, "%s: host has no connection id %u",
                                        vsc_msg_name(type), conn_id);
                if (st != HV_STATUS_INSUFFICIENT_MEMORY && st != HV_STATUS_INSUFFICIENT_BUFFERS &&
                    st != HV_STATUS_INVALID_CONNECTION_ID)
                        return vsc_fail(bus, -EIO, "HvPostMessage(%s) failed: status 0x%lx",
                                        vsc_msg_name(type), st);
                bus->stats.post_retries++;
                uint64_t now = bus->ops->now_ns(bus->ctx);
                if (now >= deadline)
                        break;
                post_backoff(bus, delay < deadline - now ? delay : deadline - now);
                if (delay < (1ull << 22) * 1000)
                        delay *= 2;
        }
        return vsc_fail(bus, -EAGAIN, "HvPostMessage(%s): host still busy after retrying", vsc_msg_name(type));
}
