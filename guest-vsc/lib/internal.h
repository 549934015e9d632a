/* SPDX-License-Identifier: MIT */
/* Private helpers of the vsc library (not part of its API). */
#pragma once

#include <stdarg.h>

#include "vsc/fmt.h"
#include "vsc/vsc.h"

/* Compiler builtins instead of <string.h>: the freestanding guest provides
 * memcpy/memset/memcmp for the calls the compiler may still emit. */
#define vsc_memcpy __builtin_memcpy
#define vsc_memset __builtin_memset
#define vsc_memcmp __builtin_memcmp

/* Shared-memory accesses to host-visible fields: exactly one load or store
 * each, so a value is read once and then validated (CONVENTIONS.md §5). */
static inline uint32_t vsc_load32(const void *p) {
        return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline void vsc_store32(void *p, uint32_t v) {
        __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}
static inline uint8_t vsc_load8(const void *p) {
        return __atomic_load_n((const uint8_t *)p, __ATOMIC_ACQUIRE);
}
/* Full barrier: a store (write_index, message_type) must be visible before
 * the following load (interrupt_mask, msg_pending) - the store->load order
 * that release/acquire do not give (§3.4, §5.5). */
static inline void vsc_mb(void) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#define VSC_FIELD(base, type, field) ((uint8_t *)(base) + offsetof(type, field))

/* Records a one-line description of a failure and returns r. */
int vsc_fail(struct vsc_bus *bus, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The deadline for one wait on the host. */
static inline uint64_t vsc_deadline(const struct vsc_bus *bus) {
        return bus->ops->now_ns(bus->ctx) + bus->timeout_ns;
}

/* Pages from the platform, NULL-safe free. _unzeroed: contents
 * unspecified (vsc_ops.alloc_pages_unzeroed says when that is right). */
void *vsc_pages_alloc(struct vsc_bus *bus, size_t n);
void *vsc_pages_alloc_unzeroed(struct vsc_bus *bus, size_t n);
void vsc_pages_free(struct vsc_bus *bus, void *p, size_t n);
