// SPDX-License-Identifier: MIT
/* The few C library functions the guest and the compiler need. String
 * instructions keep them short at CPL0, where the PVM emulator charges
 * about 250 ns per instruction (docs/pvm-host-notes.md). */
#include "guest.h"

void *memcpy(void *dst, const void *src, size_t n) {
        void *d = dst;
        __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
        return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
        if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
                return memcpy(dst, src, n);
        uint8_t *d = (uint8_t *)dst + n - 1;
        const uint8_t *s = (const uint8_t *)src + n - 1;
        __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
        return dst;
}

void *memset(void *dst, int c, size_t n) {
        void *d = dst;
        if (c == 0 && n % 8 == 0 && (uintptr_t)dst % 8 == 0) {
                size_t q = n / 8;
                __asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(0ull) : "memory");
                return dst;
        }
        __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
        return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
        const uint8_t *x = a, *y = b;
        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

size_t strlen(const char *s) {
        size_t n = 0;
        while (s[n])
                n++;
        return n;
}

int strncmp(const char *a, const char *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (a[i] != b[i])
                        return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
                if (!a[i])
                        return 0;
        }
        return 0;
}

/* Decimal or 0x-hex; *ok false on junk or overflow. */
uint64_t parse_u64(const char *s, bool *ok) {
        uint64_t v = 0;
        unsigned base = 10;
        *ok = false;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
        }
        if (!*s)
                return 0;
        for (; *s; s++) {
                unsigned d;
                if (*s >= '0' && *s <= '9')
                        d = (unsigned)(*s - '0');
                else if (base == 16 && *s >= 'a' && *s <= 'f')
                        d = (unsigned)(*s - 'a' + 10);
                else if (base == 16 && *s >= 'A' && *s <= 'F')
                        d = (unsigned)(*s - 'A' + 10);
                else
                        return 0;
                if (v > (UINT64_MAX - d) / base)
                        return 0;
                v = v * base + d;
        }
        *ok = true;
        return v;
}
