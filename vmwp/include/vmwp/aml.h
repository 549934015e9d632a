/* SPDX-License-Identifier: MIT */
/* A small AML emitter (ACPI 6.5 §20 "ACPI Machine Language Specification"):
 * just the objects our DSDT needs. Errors are sticky: every call after a
 * failure does nothing, and aml_finish() reports the first error, so table
 * builders read as straight-line code. The output never exceeds the limit
 * given to aml_init(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8u /* nested Scope/Device/Package/Buffer */

struct aml {
        uint8_t *data;
        size_t len, cap, limit;
        int err;                          /* first error (negative errno), 0 if none */
        size_t open[AML_MAX_DEPTH];       /* offsets of reserved PkgLength fields */
        unsigned depth;
};

/* limit: the most bytes this builder may produce (-E2BIG beyond). */
void aml_init(struct aml *a, size_t limit);
/* Returns 0 and hands over the buffer (free()), or the first error. Every
 * opened object must have been closed (-EINVAL otherwise). */
int aml_finish(struct aml *a, uint8_t **out, size_t *out_len);
void aml_free(struct aml *a);

/* Data objects (§20.2.3): the shortest integer encoding is chosen. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EisaId("PNP0501") as the compressed 32-bit integer (§19.6.35). */
void aml_eisaid(struct aml *a, const char *id);

/* Name(NAME, <the next data object>): call aml_name() then one data object.
 * Names are NameStrings: "\\_SB", "_HID", "COM1", "\\_SB.VMBS" ... */
void aml_name(struct aml *a, const char *name);

/* Objects with a PkgLength: open, emit contents, close. */
void aml_scope_open(struct aml *a, const char *name);
void aml_device_open(struct aml *a, const char *name);
void aml_package_open(struct aml *a, uint8_t n_elements);
void aml_buffer_open(struct aml *a); /* BufferSize is the byte count emitted */
void aml_close(struct aml *a);
/* Raw bytes (inside a buffer: resource descriptors). */
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Resource descriptors (§6.4) for a ResourceTemplate (a buffer). */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *a, uint8_t irq);
void aml_res_end(struct aml *a);
/* Word address space descriptors (§6.4.3.5.3) of a bridge's windows:
 * ResourceProducer, MinFixed, MaxFixed, PosDecode; I/O with EntireRange. */
void aml_res_word_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
/* DWord Address Space Descriptor (§6.4.3.5.2) of memory [min, max],
 * read-write, non-cacheable, fixed. */
void aml_res_dword_memory(struct aml *a, uint32_t min, uint32_t max);

/* Encodes a PkgLength for a package whose content (after the PkgLength
 * itself) is content_len bytes; returns the encoded size 1..4, or 0 if it
 * does not fit in the 28 bits AML allows. Exposed for tests. */
size_t aml_pkglen_encode(size_t content_len, uint8_t out[4]);
