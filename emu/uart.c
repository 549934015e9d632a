// SPDX-License-Identifier: MIT
/* 16550A register model. Behaviour follows the PC16550D data sheet
 * (register and interrupt tables); the one simplification: the
 * "character timeout" indication (IIR 0xC) is raised at once when the
 * receive FIFO holds fewer bytes than the trigger level, instead of after
 * four character times, since there is no line to wait for. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "common/vmstate.h"
#include "vid/vid.h"
#include "emu/uart.h"

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI 0x04
#define IER_EDSSI 0x08

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS 0x1e

#define MSR_DELTAS 0x0f
#define MSR_TERI 0x04
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct uart {
        pthread_mutex_t lock;
        const struct uart_ops *ops;
        void *opaque;

        /* Guest-visible state (plain data: saved/restored as is). */
        uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
        bool thr_ipending;
        uint8_t rx_fifo[UART_FIFO_SIZE];
        unsigned rx_head, rx_count;

        /* Input waiting for room in the FIFO. */
        uint8_t input[UART_INPUT_MAX];
        unsigned in_head, in_count;
        bool input_refused;

        bool irq_level;
        bool quiesced; /* input waits ahead of the FIFO (uart_quiesce) */
        struct uart_stats stats;
};

int uart_new(const struct uart_ops *ops, void *opaque, struct uart **out) {
        struct uart *u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        pthread_mutex_init(&u->lock, NULL);
        u->ops = ops;
        u->opaque = opaque;
        u->lsr = LSR_THRE | LSR_TEMT;
        u->msr = MSR_DCD | MSR_DSR | MSR_CTS; /* a connected, ready line */
        u->dll = 12;                          /* 9600 baud, like a PC BIOS leaves it */
        *out = u;
        return 0;
}

void uart_free(struct uart *u) {
        if (!u)
                return;
        pthread_mutex_destroy(&u->lock);
        free(u);
}

static unsigned fifo_capacity(const struct uart *u) {
        return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart *u) {
        static const unsigned levels[4] = { 1, 4, 8, 14 };
        return (u->fcr & FCR_ENABLE) ? levels[u->fcr >> 6] : 1;
}

/* The highest-priority pending interrupt (data sheet table "Interrupt
 * Control Functions"), or IIR_NONE. */
static uint8_t pending_interrupt(const struct uart *u) {
        if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRORS))
                return IIR_RLSI;
        if ((u->ier & IER_ERBFI) && (u->lsr & LSR_DR))
                return u->rx_count >= rx_trigger(u) ? IIR_RDI : IIR_CTI;
        if ((u->ier & IER_ETBEI) && u->thr_ipending)
                return IIR_THRI;
        if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
                return IIR_MSI;
        return IIR_NONE;
}

static void update_irq(struct uart *u) {
        bool level = pending_interrupt(u) != IIR_NONE;
        if (level != u->irq_level) {
                u->irq_level = level;
                if (u->ops->irq)
                        u->ops->irq(u->opaque, level);
        }
}

static void rx_push(struct uart *u, uint8_t b) {
        if (u->rx_count >= fifo_capacity(u)) {
                u->lsr |= LSR_OE; /* the new byte is lost, as on the chip */
                u->stats.overruns++;
                return;
        }
        u->rx_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = b;
        u->rx_count++;
        u->lsr |= LSR_DR;
}

/* Moves waiting input into the FIFO (never in loopback: the receiver is
 * then connected to the transmitter only). */
static void refill(struct uart *u) {
        if ((u->mcr & MCR_LOOP) || u->quiesced)
                return;
        while (u->in_count > 0 && u->rx_count < fifo_capacity(u)) {
                rx_push(u, u->input[u->in_head]);
                u->in_head = (u->in_head + 1) % UART_INPUT_MAX;
                u->in_count--;
        }
        if (u->input_refused && u->in_count < UART_INPUT_MAX) {
                u->input_refused = false;
                if (u->ops->rx_space)
                        u->ops->rx_space(u->opaque);
        }
}

static uint8_t rx_pop(struct uart *u) {
        if (u->rx_count == 0)
                return 0;
        uint8_t b = u->rx_fifo[u->rx_head];
        u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
        u->rx_count--;
        u->stats.rx_bytes++;
        refill(u);
        if (u->rx_count == 0)
                u->lsr &= (uint8_t)~LSR_DR;
        return b;
}

/* Modem status inputs: from the line, or in loopback from MCR (CTS=RTS,
 * DSR=DTR, RI=OUT1, DCD=OUT2); changes set the delta bits. */
static void update_msr(struct uart *u) {
        uint8_t in = MSR_DCD | MSR_DSR | MSR_CTS;
        if (u->mcr & MCR_LOOP)
                in = (uint8_t)(((u->mcr & MCR_RTS) ? MSR_CTS : 0) | ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
                               ((u->mcr & MCR_OUT1) ? MSR_RI : 0) | ((u->mcr & MCR_OUT2) ? MSR_DCD : 0));
        uint8_t old = u->msr & 0xf0, changed = old ^ in, delta = 0;
        if (changed & MSR_CTS)
                delta |= 0x01;
        if (changed & MSR_DSR)
                delta |= 0x02;
        if ((old & MSR_RI) && !(in & MSR_RI))
                delta |= MSR_TERI; /* trailing edge of ring indicator */
        if (changed & MSR_DCD)
                delta |= 0x08;
        u->msr = (uint8_t)(in | (u->msr & MSR_DELTAS) | delta);
}

static void write_thr(struct uart *u, uint8_t v) {
        if (u->mcr & MCR_LOOP) {
                rx_push(u, v);
        } else {
                u->stats.tx_bytes++;
                if (u->ops->tx)
                        u->ops->tx(u->opaque, v);
        }
        /* Transmission is instantaneous: THR and the shift register are
         * empty again, and the THRE interrupt is re-armed. */
        u->lsr |= LSR_THRE | LSR_TEMT;
        u->thr_ipending = true;
}

static void write_fcr(struct uart *u, uint8_t v) {
        bool was_on = u->fcr & FCR_ENABLE;
        if ((v & FCR_CLEAR_RX) || was_on != (bool)(v & FCR_ENABLE)) {
                u->rx_count = u->rx_head = 0;
                u->lsr &= (uint8_t)~LSR_DR;
        }
        u->fcr = v & 0xc1; /* enable + trigger level; clear bits self-reset */
        refill(u);
}

void uart_write(struct uart *u, unsigned reg, uint8_t v) {
        pthread_mutex_lock(&u->lock);
        bool dlab = u->lcr & LCR_DLAB;
        switch (reg) {
        case UART_RBR_THR_DLL:
                if (dlab)
                        u->dll = v;
                else
                        write_thr(u, v);
                break;
        case UART_IER_DLM:
                if (dlab) {
                        u->dlm = v;
                        break;
                }
                /* Enabling ETBEI with the holding register empty raises
                 * the THRE interrupt at once. */
                if (!(u->ier & IER_ETBEI) && (v & IER_ETBEI) && (u->lsr & LSR_THRE))
                        u->thr_ipending = true;
                u->ier = v & 0x0f;
                break;
        case UART_IIR_FCR:
                write_fcr(u, v);
                break;
        case UART_LCR:
                u->lcr = v;
                break;
        case UART_MCR: {
                bool was_loop = u->mcr & MCR_LOOP;
                u->mcr = v & 0x1f;
                update_msr(u);
                if (was_loop && !(u->mcr & MCR_LOOP))
                        refill(u);
                break;
        }
        case UART_SCR:
                u->scr = v;
                break;
        default: /* LSR and MSR are read-only (factory test writes ignored) */
                break;
        }
        update_irq(u);
        pthread_mutex_unlock(&u->lock);
}

uint8_t uart_read(struct uart *u, unsigned reg) {
        pthread_mutex_lock(&u->lock);
        bool dlab = u->lcr & LCR_DLAB;
        uint8_t v = 0xff;
        switch (reg) {
        case UART_RBR_THR_DLL:
                v = dlab ? u->dll : rx_pop(u);
                break;
        case UART_IER_DLM:
                v = dlab ? u->dlm : u->ier;
                break;
        case UART_IIR_FCR: {
                uint8_t id = pending_interrupt(u);
                if (id == IIR_THRI)
                        u->thr_ipending = false; /* reading IIR clears THRE as the source */
                v = (uint8_t)(id | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0));
                break;
        }
        case UART_LCR:
                v = u->lcr;
                break;
        case UART_MCR:
                v = u->mcr;
                break;
        case UART_LSR:
                v = u->lsr;
                if (u->rx_count > 0 && (u->fcr & FCR_ENABLE) && (u->lsr & (LSR_ERRORS)))
                        v |= 0x80;
                u->lsr &= (uint8_t)~(LSR_ERRORS); /* error bits clear on read */
                break;
        case UART_MSR:
                v = u->msr;
                u->msr &= (uint8_t)~MSR_DELTAS;
                break;
        case UART_SCR:
                v = u->scr;
                break;
        default:
                break;
        }
        update_irq(u);
        pthread_mutex_unlock(&u->lock);
        return v;
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len) {
        pthread_mutex_lock(&u->lock);
        size_t n = 0;
        while (n < len && u->in_count < UART_INPUT_MAX) {
                u->input[(u->in_head + u->in_count) % UART_INPUT_MAX] = buf[n++];
                u->in_count++;
        }
        if (n < len)
                u->input_refused = true;
        refill(u);
        if (!u->quiesced)
                update_irq(u);
        pthread_mutex_unlock(&u->lock);
        return n;
}

/* ---- quiesce, save, restore (docs/vm-state.md) ---------------------- */

void uart_quiesce(struct uart *u) {
        pthread_mutex_lock(&u->lock);
        u->quiesced = true;
        pthread_mutex_unlock(&u->lock);
}

void uart_resume(struct uart *u) {
        pthread_mutex_lock(&u->lock);
        u->quiesced = false;
        refill(u);
        update_irq(u);
        pthread_mutex_unlock(&u->lock);
}

void uart_get_state(struct uart *u, struct uart_state *out) {
        memset(out, 0, sizeof *out);
        pthread_mutex_lock(&u->lock);
        *out = (struct uart_state){ .ier = u->ier, .lcr = u->lcr, .mcr = u->mcr, .lsr = u->lsr, .msr = u->msr,
                                    .scr = u->scr, .fcr = u->fcr, .dll = u->dll, .dlm = u->dlm,
                                    .thr_ipending = u->thr_ipending, .rx_count = u->rx_count,
                                    .in_count = u->in_count };
        for (unsigned i = 0; i < u->rx_count; i++)
                out->rx_fifo[i] = u->rx_fifo[(u->rx_head + i) % UART_FIFO_SIZE];
        for (unsigned i = 0; i < u->in_count; i++)
                out->input[i] = u->input[(u->in_head + i) % UART_INPUT_MAX];
        pthread_mutex_unlock(&u->lock);
}

#define F(id, kind, m) VMSTATE_FIELD(id, kind, struct uart_state, m)
#define A(id, kind, m, n) VMSTATE_ARRAY(id, kind, struct uart_state, m, n)
static const struct vmstate_field_desc uart_fields[] = {
        F(1, VMSTATE_U8, ier),  F(2, VMSTATE_U8, lcr),  F(3, VMSTATE_U8, mcr),
        F(4, VMSTATE_U8, lsr),  F(5, VMSTATE_U8, msr),  F(6, VMSTATE_U8, scr),
        F(7, VMSTATE_U8, fcr),  F(8, VMSTATE_U8, dll),  F(9, VMSTATE_U8, dlm),
        F(10, VMSTATE_BOOL, thr_ipending),
        A(11, VMSTATE_VARBYTES, rx_fifo, rx_count),
        A(12, VMSTATE_VARBYTES, input, in_count),
};
#undef F
#undef A

const struct vmstate_desc uart_state_desc = {
        .tag = UART_STATE_TAG, .version = 1, .fields = uart_fields, .n_fields = ARRAY_SIZE(uart_fields),
        .name = "UART",
};

int uart_state_decode(const struct vmstate_section *s, struct uart_state *out, char *err, size_t errlen) {
        memset(out, 0, sizeof *out);
        int r = vmstate_decode(s, &uart_state_desc, out, err, errlen);
        if (r < 0)
                return r;
        const char *bad = NULL;
        if (out->ier & 0xf0)
                bad = "IER has reserved bits set";
        else if (out->mcr & 0xe0)
                bad = "MCR has reserved bits set";
        else if (out->fcr & (uint8_t)~0xc1u)
                bad = "FCR holds bits that self-clear";
        else if (out->rx_count > ((out->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1u))
                bad = "more received bytes than the FIFO holds";
        else if (!out->rx_count != !(out->lsr & LSR_DR))
                bad = "LSR data-ready disagrees with the receive FIFO";
        if (bad)
                return errorf(err, errlen, -EINVAL, "section UART: %s", bad);
        return 0;
}

void uart_set_state(struct uart *u, const struct uart_state *s) {
        pthread_mutex_lock(&u->lock);
        u->ier = s->ier;
        u->lcr = s->lcr;
        u->mcr = s->mcr;
        u->lsr = s->lsr;
        u->msr = s->msr;
        u->scr = s->scr;
        u->fcr = s->fcr;
        u->dll = s->dll;
        u->dlm = s->dlm;
        u->thr_ipending = s->thr_ipending;
        u->rx_head = u->in_head = 0;
        u->rx_count = MIN(s->rx_count, UART_FIFO_SIZE);
        u->in_count = MIN(s->in_count, UART_INPUT_MAX);
        memcpy(u->rx_fifo, s->rx_fifo, u->rx_count);
        memcpy(u->input, s->input, u->in_count);
        /* The interrupt line's level is the IOAPIC's saved state; recompute
         * ours without signalling (the restored irqchip already has it). */
        u->irq_level = pending_interrupt(u) != IIR_NONE;
        pthread_mutex_unlock(&u->lock);
}

void uart_get_stats(struct uart *u, struct uart_stats *out) {
        pthread_mutex_lock(&u->lock);
        *out = u->stats;
        pthread_mutex_unlock(&u->lock);
}

static void pio_read(void *opaque, struct vid_vp *vp, uint64_t off, void *data, unsigned len) {
        for (unsigned i = 0; i < len; i++)
                ((uint8_t *)data)[i] = off + i < UART_NREGS ? uart_read(opaque, (unsigned)(off + i)) : 0xff;
}

static void pio_write(void *opaque, struct vid_vp *vp, uint64_t off, const void *data, unsigned len) {
        for (unsigned i = 0; i < len; i++)
                if (off + i < UART_NREGS)
                        uart_write(opaque, (unsigned)(off + i), ((const uint8_t *)data)[i]);
}

static const struct vid_io_ops uart_io_ops = { .read = pio_read, .write = pio_write };

int uart_register(struct uart *u, struct vid_partition *p, uint16_t base) {
        return vid_register_pio(p, base, UART_NREGS, &uart_io_ops, u);
}
