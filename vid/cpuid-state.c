// SPDX-License-Identifier: MIT
/* The guest's CPUID table in the saved state (vid/state.h, docs/saved-state.md
 * "CPID"): captured with the vCPUs, checked against this host's KVM on
 * restore, and installed before the vCPU state that depends on it (XSAVE
 * and XCR0 are checked against the guest's CPUID, and so are many MSRs).
 *
 * The guest keeps exactly the table it was offered, also on a host that
 * could offer more: a guest that probed its CPU at boot never probes again.
 * A host that lacks a feature the guest was offered is refused, naming it:
 * the guest would take #UD, or lose state, the first time it used it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/log.h"
#include "common/macro.h"
#include "internal.h"
#include "vid/state.h"

#define A(id, m, n) VMSTATE_ARRAY(id, VMSTATE_U32_ARRAY, struct vid_cpuid_state, m, n)
static const struct vmstate_field_desc cpuid_fields[] = {
        A(1, function, n_function), A(2, index, n_index), A(3, flags, n_flags), A(4, eax, n_eax),
        A(5, ebx, n_ebx),           A(6, ecx, n_ecx),     A(7, edx, n_edx),
};
#undef A

const struct vmstate_desc vid_cpuid_state_desc = {
        .tag = VID_STATE_TAG_CPUID, .version = 1, .fields = cpuid_fields, .n_fields = ARRAY_SIZE(cpuid_fields),
        .name = "CPUID",
};

_Static_assert(VID_STATE_CPUID_MAX == VID_CPUID_MAX_ENTRIES, "CPID holds every entry vid can set");

static bool has_leaf(const struct vid_cpuid_state *st, uint32_t function) {
        for (uint32_t i = 0; i < st->n_function; i++)
                if (st->function[i] == function)
                        return true;
        return false;
}

int vid_cpuid_state_decode(const struct vmstate_section *s, struct vid_cpuid_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &vid_cpuid_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        uint32_t n = out->n_function;
        if (out->n_index != n || out->n_flags != n || out->n_eax != n || out->n_ebx != n || out->n_ecx != n ||
            out->n_edx != n)
                return errorf(err, errlen, -EINVAL, "section CPID: its arrays differ in length");
        if (!has_leaf(out, 0) || !has_leaf(out, 1))
                return errorf(err, errlen, -EINVAL, "section CPID: no leaf %s", has_leaf(out, 0) ? "1" : "0");
        for (uint32_t i = 0; i < n; i++) {
                if (out->flags[i] & ~VID_CPUID_SIGNIFICANT_INDEX)
                        return errorf(err, errlen, -EINVAL, "section CPID: entry %u has unknown flags 0x%x", i,
                                      out->flags[i]);
                for (uint32_t j = 0; j < i; j++)
                        if (out->function[j] == out->function[i] && out->index[j] == out->index[i])
                                return errorf(err, errlen, -EINVAL, "section CPID: leaf 0x%x.%u twice",
                                              out->function[i], out->index[i]);
        }
        return 0;
}

void vid_cpuid_state_features(const struct vid_cpuid_state *st, struct cpufeat *out) {
        memset(out, 0, sizeof *out);
        uint32_t n = MIN(st->n_function, VID_STATE_CPUID_MAX);
        for (uint32_t i = 0; i < n; i++)
                cpufeat_add_leaf(out, st->function[i], st->index[i], st->eax[i], st->ebx[i], st->ecx[i],
                                 st->edx[i]);
}

static void from_entries(const struct vid_cpuid_entry *e, size_t n, struct vid_cpuid_state *st) {
        memset(st, 0, sizeof *st);
        n = MIN(n, (size_t)VID_STATE_CPUID_MAX);
        for (size_t i = 0; i < n; i++) {
                st->function[i] = e[i].function, st->index[i] = e[i].index, st->flags[i] = e[i].flags;
                st->eax[i] = e[i].eax, st->ebx[i] = e[i].ebx, st->ecx[i] = e[i].ecx, st->edx[i] = e[i].edx;
        }
        st->n_function = st->n_index = st->n_flags = st->n_eax = st->n_ebx = st->n_ecx = st->n_edx = (uint32_t)n;
}

int vid_cpuid_state_get(const struct vid_partition *p, struct vid_cpuid_state *st) {
        if (!p->cpuid)
                return -ENODATA;
        from_entries(p->cpuid, p->n_cpuid, st);
        return 0;
}

int vid_cpuid_guest_features(const struct vid_partition *p, struct cpufeat *out) {
        memset(out, 0, sizeof *out);
        if (!p->cpuid)
                return -ENODATA;
        for (size_t i = 0; i < p->n_cpuid; i++) {
                const struct vid_cpuid_entry *e = &p->cpuid[i];
                cpufeat_add_leaf(out, e->function, e->index, e->eax, e->ebx, e->ecx, e->edx);
        }
        return 0;
}

int vid_cpuid_host_features(struct vid_partition *p, struct cpufeat *out) {
        memset(out, 0, sizeof *out);
        _cleanup_free_ struct vid_cpuid_entry *e = calloc(VID_CPUID_MAX_ENTRIES, sizeof *e);
        if (!e)
                return -ENOMEM;
        int n = vid_cpuid_supported(p, e, VID_CPUID_MAX_ENTRIES);
        if (n < 0)
                return n;
        for (int i = 0; i < n; i++) {
                /* What vid would offer here: KVM's table with the host's quirks. */
                struct kvm_cpuid_entry2 k = { .function = e[i].function, .index = e[i].index, .eax = e[i].eax,
                                              .ebx = e[i].ebx, .ecx = e[i].ecx, .edx = e[i].edx };
                vid_pvm_cpuid_fixup(p, &k);
                cpufeat_add_leaf(out, k.function, k.index, k.eax, k.ebx, k.ecx, k.edx);
        }
        return 0;
}

int vid_cpuid_state_set(struct vid_partition *p, const struct vid_cpuid_state *st, char *err, size_t errlen) {
        if (p->started)
                return errorf(err, errlen, -EBUSY, "the partition already ran: its CPUID is fixed");
        struct cpufeat guest, host;
        vid_cpuid_state_features(st, &guest);
        int r = vid_cpuid_host_features(p, &host);
        if (r < 0)
                return errorf(err, errlen, r, "KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
        if ((r = cpufeat_missing(&guest, &host, err, errlen)) < 0)
                return r;
        _cleanup_free_ struct vid_cpuid_entry *e = calloc(VID_CPUID_MAX_ENTRIES, sizeof *e);
        if (!e)
                return -ENOMEM;
        size_t n = MIN(st->n_function, VID_STATE_CPUID_MAX);
        for (size_t i = 0; i < n; i++)
                e[i] = (struct vid_cpuid_entry){ .function = st->function[i], .index = st->index[i],
                                                 .flags = st->flags[i], .eax = st->eax[i], .ebx = st->ebx[i],
                                                 .ecx = st->ecx[i], .edx = st->edx[i] };
        r = vid_cpuid_set(p, e, n);
        return r < 0 ? errorf(err, errlen, r, "KVM_SET_CPUID2 with the saved CPUID: %s", strerror(-r)) : 0;
}
