/* SPDX-License-Identifier: MIT */
/* A small snprintf for the freestanding guest and the library's error
 * lines: %s %c %d %i %u %x %X %p %% with the l/ll/z modifiers, a field
 * width and the '0' and '-' flags. Always NUL-terminates (if size > 0) and
 * returns the length it would have written, like C99 snprintf. */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

int vsc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
int vsc_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* GUID wire bytes (Microsoft mixed-endian, §0) -> "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
#define VSC_GUID_STRLEN 37
void vsc_guid_format(const uint8_t wire[16], char out[VSC_GUID_STRLEN]);
