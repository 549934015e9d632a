// SPDX-License-Identifier: MIT
/* Fuzz the 16550A register model (emu/uart.c): any sequence of guest
 * register reads and writes and console input. Checks: the interrupt line
 * is only reported when it changes and agrees with IIR (bit 0 clear while
 * asserted), uart_receive() never takes more than offered, the receive side
 * never holds more than UART_INPUT_MAX + UART_FIFO_SIZE bytes, and every
 * transmitted byte came from a THR write.
 *
 * Input: a sequence of [op u8][reg u8][value u8]. */
#include <stdint.h>
#include <stdlib.h>

#include "emu/uart.h"
#include "tests/fuzz/fuzz-check.h"


static bool level;
static uint64_t tx_bytes, rx_space_calls;

static void on_tx(void *o, uint8_t b) {
        (void)o;
        (void)b;
        tx_bytes++;
}
static void on_irq(void *o, bool l) {
        (void)o;
        CHECK(l != level);
        level = l;
}
static void on_rx_space(void *o) {
        (void)o;
        rx_space_calls++;
}
static const struct uart_ops ops = { .tx = on_tx, .irq = on_irq, .rx_space = on_rx_space };

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size) {
        struct uart *u;
        level = false;
        tx_bytes = rx_space_calls = 0;
        if (uart_new(&ops, NULL, &u) < 0)
                return 0;
        uint64_t thr_writes = 0, accepted = 0;
        for (size_t i = 0; i + 3 <= size; i += 3) {
                unsigned reg = in[i + 1] % UART_NREGS;
                uint8_t v = in[i + 2];
                switch (in[i] % 4) {
                case 0:
                        (void)uart_read(u, reg);
                        break;
                case 1:
                        /* THR unless DLAB (LCR bit 7) makes it DLL */
                        if (reg == UART_RBR_THR_DLL && !(uart_read(u, UART_LCR) & 0x80))
                                thr_writes++;
                        uart_write(u, reg, v);
                        break;
                case 2: {
                        uint8_t buf[255];
                        size_t n = v;
                        for (size_t j = 0; j < n; j++)
                                buf[j] = (uint8_t)(i + j);
                        size_t got = uart_receive(u, buf, n);
                        CHECK(got <= n);
                        accepted += got;
                        break;
                }
                default: {
                        /* A burst of 5000 bytes: the input bound must hold. */
                        static uint8_t burst[5000];
                        size_t got = uart_receive(u, burst, sizeof burst);
                        CHECK(got <= UART_INPUT_MAX + UART_FIFO_SIZE);
                        accepted += got;
                        break;
                }
                }
                /* IIR bit 0 is "no interrupt pending": an asserted line
                 * means IIR names a cause (reading it may then clear a THRE
                 * indication, which the next round checks again). */
                if (level)
                        CHECK((uart_read(u, UART_IIR_FCR) & 1) == 0);
                CHECK(tx_bytes <= thr_writes);
        }
        struct uart_stats st;
        uart_get_stats(u, &st);
        CHECK(st.tx_bytes == tx_bytes);
        CHECK(st.rx_bytes <= accepted + thr_writes); /* loopback feeds rx too */
        uart_free(u);
        return 0;
}
