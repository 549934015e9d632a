/* SPDX-License-Identifier: MIT */
/* The emulated devices' saved state as plain data (docs/saved-state.md,
 * sections "RTC ", "KBC "; docs/vm-state.md): what the guest can read back
 * from the MC146818 RTC and the i8042 with its keyboard. Time is saved as
 * guest time and as intervals, never as host timestamps: a restored RTC
 * goes on from the guest time it had when the VM was paused (the time-sync
 * integration service sets the guest's clock after a resume), and its
 * periodic interrupt keeps its phase. Decoders are pure (fuzzed by
 * tests/fuzz/fuzz-device-state.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/vmstate.h"
#include "emu/i8042.h"
#include "emu/ide.h"
#include "emu/pci.h"
#include "emu/rtc.h"

#define RTC_STATE_TAG VMSTATE_TAG('R', 'T', 'C', ' ')
#define I8042_STATE_TAG VMSTATE_TAG('K', 'B', 'C', ' ')

struct rtc_state {
        uint8_t index;
        uint8_t cmos[RTC_CMOS_SIZE];
        uint64_t guest_sec; /* int64 as two's complement: the guest's time at the pause */
        uint32_t guest_nsec;
        bool frozen;        /* SET or divider reset: the time stands at guest_sec */
        uint64_t last_sec;  /* update/alarm flags computed up to this guest second */
        uint64_t periodic_ns; /* since the periodic flag was last brought up to date */
        uint64_t epoch_ns;    /* since the divider chain started */
        bool irq_level;
};

struct i8042_state {
        uint8_t ram[32];
        uint8_t out;
        bool obf, last_was_cmd, sys_flag;
        uint8_t pending, outport;
        uint32_t cq_len;
        uint8_t cq[I8042_CTRL_QUEUE]; /* oldest first */
        bool irq_level, kbd_full;
        /* the keyboard */
        uint32_t kq_len;
        uint8_t kq[I8042_KBD_QUEUE]; /* oldest first */
        uint8_t kbd_pending, kbd_set;
        bool kbd_scanning;
        uint8_t kbd_leds, kbd_typematic, kbd_last;
};

extern const struct vmstate_desc rtc_state_desc;
extern const struct vmstate_desc i8042_state_desc;

void rtc_get_state(struct rtc *r, const struct rtc_clock *now, struct rtc_state *out);
/* Bounds a decoder keeps times in (the RTC's years are 0..9999: ~2^38 s)
 * and intervals in (2^62 ns, 146 years of uptime). */
#define RTC_STATE_SEC_MAX ((int64_t)1 << 40)
#define RTC_STATE_NS_MAX ((uint64_t)1 << 62)
/* Pure: refuses an index, register value or combination the device never
 * holds (rtc_state_bad in state.c lists them). */
int rtc_state_decode(const struct vmstate_section *s, struct rtc_state *out, char *err, size_t errlen);
/* Applies a decoded state; raises no interrupt and arms no timer: the
 * flags that came due while the state lay saved are brought up to date,
 * and IRQ 8 raised if they ask for it, by rtc_resume at the emulated
 * devices' resume, after the restored VM's devices all stand. */
void rtc_set_state(struct rtc *r, const struct rtc_state *st, const struct rtc_clock *now);
/* Settles a restored RTC (a no-op otherwise): runs once, at the first
 * resume after rtc_set_state. */
void rtc_resume(struct rtc *r, const struct rtc_clock *now);

void i8042_get_state(struct i8042 *k, struct i8042_state *out);
int i8042_state_decode(const struct vmstate_section *s, struct i8042_state *out, char *err, size_t errlen);
void i8042_set_state(struct i8042 *k, const struct i8042_state *st);

/* ---- the IDE controller and its PCI functions ("IDEC", "PIIX") ----
 * One IDEC per channel (instance: 0 primary, 1 secondary): the task file,
 * the command in progress with its PIO buffer, the bus master registers
 * and both drives' settings. Disk I/O in flight was completed at quiesce
 * (the service's pause hook); a transfer the channel still wanted is
 * asked for again at restore (a DMA one walks the guest's PRD table
 * again: guest RAM is as it was). PIIX: the three functions' configuration
 * spaces; the restoring VM's read-only bytes must be the same. */
#define IDE_STATE_TAG VMSTATE_TAG('I', 'D', 'E', 'C')
#define PIIX_STATE_TAG VMSTATE_TAG('P', 'I', 'I', 'X')
#define IDE_STATE_BUF_BYTES (IDE_BUF_SECTORS * 512u)
struct ide_channel_state {
        uint8_t tf[13]; /* feature nsect lbal lbam lbah, the same five HOB, device, command */
        uint8_t devctl;
        bool in_reset;
        uint8_t phase, cur;
        uint8_t cmd_action, cmd_proto, cmd_error, cmd_nsect;
        bool cmd_set_nsect, cmd_lba48, cmd_fua;
        uint64_t cmd_lba;
        uint32_t cmd_count;
        uint16_t cmd_block;
        uint64_t lba_next;
        uint32_t left, chunk, pos, fill, drq_end;
        uint32_t buf_len;
        uint8_t buf[IDE_STATE_BUF_BYTES];
        bool io_wanted, intrq, irq_level, dma_exact;
        uint8_t bm_cmd, bm_status;
        uint32_t prd_table;
        /* per drive (master, slave) */
        uint8_t drv_present[2], drv_status[2], drv_error[2], drv_flags[2]; /* flags: 1 ro, 2 write cache, 4 lookahead */
        uint8_t drv_multiple[2], drv_xfer[2], drv_power[2], drv_heads[2], drv_spt[2];
        uint32_t drv_sectors_n;
        uint64_t drv_sectors[2];
        /* version 2: the DVD drive (ATAPI) */
        uint8_t drv_atapi[2];     /* IDE_ATAPI_*: 1 PACKET device, 2 tray open, 4 locked, 8 unit attention */
        uint8_t drv_event[2];     /* enum atapi_media_event not yet reported */
        uint8_t drv_sense_key[2];
        uint8_t drv_sense_asc[4]; /* ASC, ASCQ of each drive */
        uint16_t byte_limit;      /* PACKET's byte count limit */
        bool sig_fresh;           /* the signatures are in LBA mid/high */
};
#define IDE_ATAPI_DEVICE 0x01u
#define IDE_ATAPI_TRAY_OPEN 0x02u
#define IDE_ATAPI_LOCKED 0x04u
#define IDE_ATAPI_ATTENTION 0x08u
struct piix_state {
        uint32_t address; /* CONFIG_ADDRESS */
        uint8_t host[PCI_CFG_SIZE], isa[PCI_CFG_SIZE], ide[PCI_CFG_SIZE];
        uint8_t video[PCI_CFG_SIZE]; /* all zero: no video function (or a state from before it) */
};
extern const struct vmstate_desc ide_channel_state_desc;
extern const struct vmstate_desc piix_state_desc;

/* Only with the devices quiesced (no request in flight: -EBUSY). */
int ide_get_state(struct ide_controller *c, unsigned channel, struct ide_channel_state *out);
int ide_channel_state_decode(const struct vmstate_section *s, struct ide_channel_state *out, char *err,
                             size_t errlen);
/* Checks the drives against the attached ones (presence, size), then
 * applies; a wanted transfer is asked for again. */
int ide_set_state(struct ide_controller *c, unsigned channel, const struct ide_channel_state *st, char *err,
                  size_t errlen);
void piix_get_state(struct piix *x, struct piix_state *out);
int piix_state_decode(const struct vmstate_section *s, struct piix_state *out, char *err, size_t errlen);
/* Refuses a state whose read-only configuration bytes differ (another
 * device, a function this bus lacks or has); the IDE function's decode
 * follows the restored registers. A state without the video function's
 * bytes (written before it existed) leaves that function as it is. */
int piix_set_state(struct piix *x, const struct piix_state *st, char *err, size_t errlen);

