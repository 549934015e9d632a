// SPDX-License-Identifier: MIT
/* Interrupts: in-kernel LAPIC + IOAPIC, the GSI routing table (IOAPIC pins
 * plus our MSI routes), irqfd and ioeventfd. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "common/macro.h"
#include "internal.h"

#define MSI_ADDR_BASE 0xfee00000u

static uint32_t msi_addr(uint32_t apic_id) {
        return MSI_ADDR_BASE | ((apic_id & 0xff) << 12);
}

/* KVM_SET_GSI_ROUTING replaces the whole table, so we keep all of it,
 * starting with the default IOAPIC routes KVM would otherwise provide. */
int vid_irq_init(struct vid_partition *p) {
        p->routes = calloc(VID_MAX_ROUTES, sizeof *p->routes);
        if (!p->routes)
                return -ENOMEM;
        for (unsigned pin = 0; pin < VID_FIRST_MSI_GSI; pin++)
                p->routes[p->n_routes++] = (struct kvm_irq_routing_entry){
                        .gsi = pin, .type = KVM_IRQ_ROUTING_IRQCHIP,
                        .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = pin },
                };
        /* The legacy PIC pins too, as KVM's default table has them: a guest
         * that never enables its IOAPIC still gets ISA interrupts. */
        for (unsigned pin = 0; pin < 16; pin++) {
                if (pin == 2)
                        continue;
                p->routes[p->n_routes++] = (struct kvm_irq_routing_entry){
                        .gsi = pin, .type = KVM_IRQ_ROUTING_IRQCHIP,
                        .u.irqchip = { .irqchip = pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                                       .pin = pin & 7 },
                };
        }
        return 0;
}

void vid_irq_free(struct vid_partition *p) {
        free(p->routes);
        p->routes = NULL;
}

static int commit_routes(struct vid_partition *p) {
        _cleanup_free_ struct kvm_irq_routing *t =
                calloc(1, sizeof *t + p->n_routes * sizeof(struct kvm_irq_routing_entry));
        if (!t)
                return -ENOMEM;
        t->nr = p->n_routes;
        memcpy(t->entries, p->routes, p->n_routes * sizeof *p->routes);
        return ioctl(p->vm_fd, KVM_SET_GSI_ROUTING, t) < 0 ? -errno : 0;
}

int vid_irq_line(struct vid_partition *p, unsigned gsi, bool level) {
        struct kvm_irq_level l = { .irq = gsi, .level = level };
        return ioctl(p->vm_fd, KVM_IRQ_LINE, &l) < 0 ? -errno : 0;
}

/* KVM_SIGNAL_MSI to one APIC: how many took it (0: blocked), or -errno. */
static int signal_msi(struct vid_partition *p, uint32_t apic_id, uint32_t data) {
        struct kvm_msi m = { .address_lo = msi_addr(apic_id), .data = data };
        int r = ioctl(p->vm_fd, KVM_SIGNAL_MSI, &m);
        return r < 0 ? -errno : r;
}

int vid_msi_send(struct vid_partition *p, uint32_t apic_id, uint8_t vector) {
        int r = signal_msi(p, apic_id, vector);
        return r < 0 ? r : 0;
}

/* An NMI to every vCPU: an MSI with delivery mode NMI (data bits 10:8 =
 * 100b; the vector is ignored), like a machine's NMI button. A vCPU that
 * cannot take it now (KVM answers 0) keeps running; the count says so. */
#define MSI_DATA_DM_NMI (4u << 8)

int vid_partition_nmi(struct vid_partition *p) {
        int delivered = 0;
        for (unsigned i = 0; i < p->n_vps; i++) {
                int r = signal_msi(p, vid_vp_apic_id(p->vps[i]), MSI_DATA_DM_NMI);
                if (r < 0)
                        return r;
                delivered += r > 0;
        }
        return delivered;
}

int vid_msi_route_add(struct vid_partition *p, uint32_t apic_id, uint8_t vector, unsigned *gsi) {
        pthread_mutex_lock(&p->irq_lock);
        int r = -ENOSPC;
        if (p->n_routes < VID_MAX_ROUTES) {
                unsigned g = VID_FIRST_MSI_GSI;
                for (unsigned i = 0; i < p->n_routes; i++)
                        if (p->routes[i].gsi >= g)
                                g = p->routes[i].gsi + 1;
                p->routes[p->n_routes++] = (struct kvm_irq_routing_entry){
                        .gsi = g, .type = KVM_IRQ_ROUTING_MSI,
                        .u.msi = { .address_lo = msi_addr(apic_id), .data = vector },
                };
                r = commit_routes(p);
                if (r < 0)
                        p->n_routes--;
                else
                        *gsi = g;
        }
        pthread_mutex_unlock(&p->irq_lock);
        return r;
}

int vid_msi_route_set(struct vid_partition *p, unsigned gsi, uint32_t apic_id, uint8_t vector) {
        pthread_mutex_lock(&p->irq_lock);
        int r = -ENOENT;
        for (unsigned i = 0; i < p->n_routes; i++) {
                struct kvm_irq_routing_entry *e = &p->routes[i];
                if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
                        continue;
                if (e->u.msi.address_lo == msi_addr(apic_id) && e->u.msi.data == vector) {
                        r = 0;
                        break;
                }
                struct kvm_irq_routing_entry old = *e;
                e->u.msi.address_lo = msi_addr(apic_id);
                e->u.msi.data = vector;
                r = commit_routes(p);
                if (r < 0)
                        *e = old;
                break;
        }
        pthread_mutex_unlock(&p->irq_lock);
        return r;
}

int vid_irqfd_assign(struct vid_partition *p, int eventfd, unsigned gsi) {
        struct kvm_irqfd f = { .fd = (uint32_t)eventfd, .gsi = gsi };
        return ioctl(p->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int vid_irqfd_deassign(struct vid_partition *p, int eventfd, unsigned gsi) {
        struct kvm_irqfd f = { .fd = (uint32_t)eventfd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };
        return ioctl(p->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

static int ioeventfd(struct vid_partition *p, bool pio, uint64_t addr, unsigned len, uint64_t datamatch,
                     int eventfd, bool deassign) {
        if (len != 1 && len != 2 && len != 4 && len != 8)
                return -EINVAL;
        struct kvm_ioeventfd e = {
                .datamatch = datamatch, .addr = addr, .len = len, .fd = eventfd,
                .flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                         (deassign ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
        };
        return ioctl(p->vm_fd, KVM_IOEVENTFD, &e) < 0 ? -errno : 0;
}

int vid_ioeventfd_assign(struct vid_partition *p, bool pio, uint64_t addr, unsigned len, uint64_t datamatch,
                         int eventfd) {
        return ioeventfd(p, pio, addr, len, datamatch, eventfd, false);
}

int vid_ioeventfd_deassign(struct vid_partition *p, bool pio, uint64_t addr, unsigned len, uint64_t datamatch,
                           int eventfd) {
        return ioeventfd(p, pio, addr, len, datamatch, eventfd, true);
}
