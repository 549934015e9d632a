/* SPDX-License-Identifier: MIT */
/* A 16550A UART (National Semiconductor PC16550D data sheet): FIFOs,
 * IER/IIR/FCR/LCR with the divisor latch, MCR with loopback, LSR, MSR, SCR,
 * and the THR-empty, received-data, line-status and modem-status interrupts.
 * The register model is independent of KVM (unit-testable); uart_register()
 * attaches it to a partition's port space.
 *
 * Threading: guest accesses arrive on vCPU threads, input from the worker's
 * main loop; one mutex serialises both. The callbacks run under it and must
 * not call back into the UART. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/device.h"
#include "common/vmstate.h"

struct vid_partition;
struct uart;

#define UART_FIFO_SIZE 16u
/* Input accepted ahead of the receive FIFO (bytes): the bound on what a
 * console client can make the worker hold. */
#define UART_INPUT_MAX 4096u

/* Register offsets from the base port. */
enum {
        UART_RBR_THR_DLL = 0,
        UART_IER_DLM = 1,
        UART_IIR_FCR = 2,
        UART_LCR = 3,
        UART_MCR = 4,
        UART_LSR = 5,
        UART_MSR = 6,
        UART_SCR = 7,
        UART_NREGS = 8,
};

struct uart_ops {
        /* A byte left the transmitter (not in loopback). */
        void (*tx)(void *opaque, uint8_t byte);
        /* The interrupt output changed level. */
        void (*irq)(void *opaque, bool level);
        /* uart_receive() refused input earlier and there is room again. */
        void (*rx_space)(void *opaque);
};

struct uart_stats {
        uint64_t tx_bytes, rx_bytes, overruns;
};

int uart_new(const struct uart_ops *ops, void *opaque, struct uart **out);
void uart_free(struct uart *u);

/* One-byte register access, as a vCPU would do it. */
uint8_t uart_read(struct uart *u, unsigned reg);
void uart_write(struct uart *u, unsigned reg, uint8_t value);

/* Feeds received bytes; returns how many were accepted (less than len when
 * UART_INPUT_MAX bytes are already waiting; rx_space() is called later). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

void uart_get_stats(struct uart *u, struct uart_stats *out);

/* Quiesce (docs/vm-state.md): input is still accepted but waits ahead of
 * the FIFO and no interrupt changes until uart_resume(). Guest register
 * accesses come from vCPUs, which are parked first. */
void uart_quiesce(struct uart *u);
void uart_resume(struct uart *u);

/* The guest-visible state as plain data (docs/saved-state.md, "UART"),
 * with the input accepted from the console ahead of the FIFO. */
#define UART_STATE_TAG VMSTATE_TAG('U', 'A', 'R', 'T')
struct uart_state {
        uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
        bool thr_ipending;
        uint32_t rx_count; /* the receive FIFO, oldest byte first */
        uint8_t rx_fifo[UART_FIFO_SIZE];
        uint32_t in_count;
        uint8_t input[UART_INPUT_MAX];
};
struct vmstate_section;
extern const struct vmstate_desc uart_state_desc;
void uart_get_state(struct uart *u, struct uart_state *out);
/* Pure: decodes and checks a UART section. */
int uart_state_decode(const struct vmstate_section *s, struct uart_state *out, char *err, size_t errlen);
/* Before the vCPUs first run; the interrupt line is not signalled (the
 * restored IOAPIC holds its level). */
void uart_set_state(struct uart *u, const struct uart_state *s);

/* Claims [base, base + 8) on p; accesses wider than a byte are split. */
int uart_register(struct uart *u, struct vid_partition *p, uint16_t base);

/* The UART's row of the worker's device table (common/device.h, emu/state.c):
 * section "UART"; its dev is the struct uart. */
extern const struct device_ops uart_device_ops;
