// SPDX-License-Identifier: MIT
/* The Hyper-V CPUID leaves (docs/hyperv-guest-interface.md §1.1-§1.4) and
 * their installation into the partition's CPUID table. */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "hvshim/decode.h"
#include "internal.h"

void hv_cpuid_leaves(const struct hvshim_config *cfg, unsigned n_vps,
                     struct hv_cpuid_leaf out[HV_CPUID_LEAF_COUNT]) {
        /* Privileges (EAX): only what hvshim implements. SynIC (bit 2) is
         * not checked by Linux but describes what we do; bits 1, 5 and 6
         * are required for detection (§1.1). Never: SYNTIMER (3), the APIC
         * MSRs (4), GUEST_IDLE (10), REENLIGHTENMENT (13). */
        uint32_t eax = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_SYNIC_AVAILABLE | HV_MSR_HYPERCALL_AVAILABLE |
                       HV_MSR_VP_INDEX_AVAILABLE;
        uint32_t edx = 0;
        if (cfg->reference_tsc)
                eax |= HV_MSR_REFERENCE_TSC_AVAILABLE;
        if (cfg->frequency_msrs) {
                eax |= HV_ACCESS_FREQUENCY_MSRS;
                edx |= HV_FEATURE_FREQUENCY_MSRS_AVAILABLE;
        }
        if (cfg->tsc_invariant)
                eax |= HV_ACCESS_TSC_INVARIANT;
        if (cfg->crash_msrs)
                edx |= HV_FEATURE_GUEST_CRASH_MSR_AVAILABLE;

        out[0] = (struct hv_cpuid_leaf){ HV_CPUID_VENDOR_AND_MAX, HV_CPUID_MAX_LEAF, HV_CPUID_SIGNATURE_EBX,
                                         HV_CPUID_SIGNATURE_ECX, HV_CPUID_SIGNATURE_EDX };
        out[1] = (struct hv_cpuid_leaf){ HV_CPUID_INTERFACE, HV_CPUID_INTERFACE_HV1, 0, 0, 0 };
        /* Host build: printed only; zeros as recommended in §1.2. */
        out[2] = (struct hv_cpuid_leaf){ HV_CPUID_VERSION, 0, 0, 0, 0 };
        /* EBX: the two hypercalls we serve. Never PARTITION_ID (BUG() on
         * failure), CPU_MANAGEMENT (root partition), ISOLATION (§1.3). */
        out[3] = (struct hv_cpuid_leaf){ HV_CPUID_FEATURES, eax, HV_POST_MESSAGES | HV_SIGNAL_EVENTS, 0, edx };
        /* Hints: only deprecate-AEOI (§1.8: KVM's LAPIC cannot auto-EOI);
         * EBX = spin-wait count 0xffffffff = never notify. */
        out[4] = (struct hv_cpuid_leaf){ HV_CPUID_ENLIGHTENMENT_INFO, HV_DEPRECATING_AEOI_RECOMMENDED, 0xffffffffu,
                                         0, 0 };
        out[5] = (struct hv_cpuid_leaf){ HV_CPUID_IMPLEMENT_LIMITS, n_vps, n_vps, 0, 0 };
}

/* Host leaves minus the whole hypervisor range (vid already drops KVM's
 * leaves; a KVM signature anywhere makes Linux choose KVM, §1.1), with the
 * hypervisor-present bit, plus ours. */
int hvshim_cpuid_install(struct hvshim *hv) {
        _cleanup_free_ struct vid_cpuid_entry *e = calloc(VID_CPUID_MAX_ENTRIES, sizeof *e);
        if (!e)
                return -ENOMEM;
        int r = vid_cpuid_supported(hv->p, e, VID_CPUID_MAX_ENTRIES);
        if (r < 0)
                return r;
        size_t n = 0;
        bool have_leaf1 = false;
        for (size_t i = 0; i < (size_t)r; i++) {
                if ((e[i].function & 0xffff0000u) == 0x40000000u)
                        continue;
                if (e[i].function == 1) {
                        e[i].ecx |= HV_CPUID_HYPERVISOR_PRESENT;
                        have_leaf1 = true;
                }
                e[n++] = e[i];
        }
        if (!have_leaf1)
                return -ENOTSUP;
        if (n + HV_CPUID_LEAF_COUNT > VID_CPUID_MAX_ENTRIES)
                return -E2BIG;
        struct hv_cpuid_leaf leaves[HV_CPUID_LEAF_COUNT];
        hv_cpuid_leaves(&hv->cfg, hv->n_vps, leaves);
        for (size_t i = 0; i < HV_CPUID_LEAF_COUNT; i++)
                e[n++] = (struct vid_cpuid_entry){ .function = leaves[i].function, .eax = leaves[i].eax,
                                                   .ebx = leaves[i].ebx, .ecx = leaves[i].ecx,
                                                   .edx = leaves[i].edx };
        return vid_cpuid_set(hv->p, e, n);
}
