// SPDX-License-Identifier: MIT
/* Serial console on the 16550 at 0x3F8, polled output only. Works at CPL0
 * and at CPL3 (IOPL 3). Every port access is a VM exit on our host (about
 * 8 us at CPL0, 58 us at CPL3, docs/pvm-host-notes.md), so the line status
 * register is read once per 16 bytes (the transmit FIFO depth), not per byte. */
#include "guest.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20
#define FIFO_BYTES 16
#define THRE_POLLS 100000

/* Bytes we may still write before the FIFO must be checked again. */
static unsigned fifo_budget;

void con_init(void) {
        outb(COM1 + UART_IER, 0x00);
        outb(COM1 + UART_LCR, 0x80); /* DLAB: 115200 baud, divisor 1 */
        outb(COM1 + UART_THR, 0x01);
        outb(COM1 + UART_IER, 0x00);
        outb(COM1 + UART_LCR, 0x03); /* 8N1 */
        outb(COM1 + UART_FCR, 0x07); /* enable and clear the FIFOs */
        outb(COM1 + UART_MCR, 0x03);
        fifo_budget = 0;
        con_write("\n", 1); /* firmware output may leave a line open */
}

static void con_putc(char c) {
        if (fifo_budget == 0) {
                /* Bounded: a missing or stuck UART must not hang the guest. */
                for (unsigned i = 0; i < THRE_POLLS && !(inb(COM1 + UART_LSR) & LSR_THRE); i++)
                        cpu_relax();
                fifo_budget = FIFO_BYTES;
        }
        outb(COM1 + UART_THR, (uint8_t)c);
        fifo_budget--;
}

void con_write(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                con_putc(s[i]);
}

void report(const char *fmt, ...) {
        char line[320];
        va_list ap;
        size_t n = 4;
        __builtin_memcpy(line, "VSC ", 4);
        va_start(ap, fmt);
        int w = vsc_vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
        va_end(ap);
        n += (size_t)w < sizeof line - n - 2 ? (size_t)w : sizeof line - n - 2;
        line[n++] = '\n';
        con_write(line, n);
}
