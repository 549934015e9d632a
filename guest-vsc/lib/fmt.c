// SPDX-License-Identifier: MIT
/* The formatter behind the guest's report lines and the library's error
 * messages (no C library in the guest). */
#include "vsc/fmt.h"

#include <stdbool.h>

struct fmt_out {
        char *buf;
        size_t size, len;
};

static void out_char(struct fmt_out *o, char c) {
        if (o->len + 1 < o->size)
                o->buf[o->len] = c;
        o->len++;
}

struct fmt_spec {
        unsigned width;
        bool zero, left;
        int lng; /* 0 int, 1 long, 2 long long, 3 size_t */
};

static void out_padded(struct fmt_out *o, const char *s, size_t n, const struct fmt_spec *sp, char pad) {
        size_t fill = sp->width > n ? sp->width - n : 0;
        if (!sp->left)
                while (fill-- > 0)
                        out_char(o, pad);
        for (size_t i = 0; i < n; i++)
                out_char(o, s[i]);
        if (sp->left)
                while (fill-- > 0)
                        out_char(o, ' ');
}

static void out_number(struct fmt_out *o, uint64_t v, bool neg, unsigned base, bool upper,
                       const struct fmt_spec *sp) {
        const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
        char tmp[24];
        size_t n = 0;
        do {
                tmp[sizeof tmp - 1 - n++] = digits[v % base];
                v /= base;
        } while (v);
        if (neg) {
                if (sp->zero && sp->width > 0) {
                        /* "-0012": sign before the zero padding */
                        struct fmt_spec rest = *sp;
                        out_char(o, '-');
                        rest.width = sp->width - 1;
                        out_padded(o, tmp + sizeof tmp - n, n, &rest, '0');
                        return;
                }
                tmp[sizeof tmp - 1 - n++] = '-';
        }
        out_padded(o, tmp + sizeof tmp - n, n, sp, sp->zero && !sp->left ? '0' : ' ');
}

static const char *parse_spec(const char *f, struct fmt_spec *sp) {
        *sp = (struct fmt_spec){ 0 };
        for (;; f++) {
                if (*f == '0')
                        sp->zero = true;
                else if (*f == '-')
                        sp->left = true;
                else
                        break;
        }
        while (*f >= '0' && *f <= '9')
                sp->width = sp->width * 10 + (unsigned)(*f++ - '0');
        if (*f == 'z') {
                sp->lng = 3;
                f++;
        } else {
                while (*f == 'l' && sp->lng < 2) {
                        sp->lng++;
                        f++;
                }
        }
        return f;
}

static uint64_t take_unsigned(va_list *ap, int lng) {
        switch (lng) {
        case 0: return va_arg(*ap, unsigned);
        case 1: return va_arg(*ap, unsigned long);
        case 2: return va_arg(*ap, unsigned long long);
        default: return va_arg(*ap, size_t);
        }
}

static int64_t take_signed(va_list *ap, int lng) {
        switch (lng) {
        case 0: return va_arg(*ap, int);
        case 1: return va_arg(*ap, long);
        case 2: return va_arg(*ap, long long);
        default: return (int64_t)va_arg(*ap, size_t);
        }
}

static void format_one(struct fmt_out *o, char conv, const struct fmt_spec *sp, va_list *ap) {
        switch (conv) {
        case 's': {
                const char *s = va_arg(*ap, const char *);
                size_t n = 0;
                if (!s)
                        s = "(null)";
                while (s[n])
                        n++;
                out_padded(o, s, n, sp, ' ');
                break;
        }
        case 'c': {
                char c = (char)va_arg(*ap, int);
                out_padded(o, &c, 1, sp, ' ');
                break;
        }
        case 'd':
        case 'i': {
                int64_t v = take_signed(ap, sp->lng);
                out_number(o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0, 10, false, sp);
                break;
        }
        case 'u': out_number(o, take_unsigned(ap, sp->lng), false, 10, false, sp); break;
        case 'x': out_number(o, take_unsigned(ap, sp->lng), false, 16, false, sp); break;
        case 'X': out_number(o, take_unsigned(ap, sp->lng), false, 16, true, sp); break;
        case 'p': {
                struct fmt_spec p = { .width = 0 };
                out_char(o, '0');
                out_char(o, 'x');
                out_number(o, (uint64_t)(uintptr_t)va_arg(*ap, void *), false, 16, false, &p);
                break;
        }
        case '%': out_char(o, '%'); break;
        default: /* unknown conversion: print it verbatim, consume nothing */
                out_char(o, '%');
                if (conv)
                        out_char(o, conv);
                break;
        }
}

int vsc_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
        struct fmt_out o = { .buf = buf, .size = size, .len = 0 };
        va_list aq;
        va_copy(aq, ap);
        while (*fmt) {
                if (*fmt != '%') {
                        out_char(&o, *fmt++);
                        continue;
                }
                struct fmt_spec sp;
                fmt = parse_spec(fmt + 1, &sp);
                format_one(&o, *fmt, &sp, &aq);
                if (*fmt)
                        fmt++;
        }
        va_end(aq);
        if (size > 0)
                buf[o.len < size ? o.len : size - 1] = '\0';
        return o.len > 0x7fffffff ? 0x7fffffff : (int)o.len;
}

int vsc_snprintf(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsc_vsnprintf(buf, size, fmt, ap);
        va_end(ap);
        return n;
}

void vsc_guid_format(const uint8_t g[16], char out[VSC_GUID_STRLEN]) {
        /* First three groups little-endian, the last 8 bytes in text order (§0). */
        vsc_snprintf(out, VSC_GUID_STRLEN, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                     g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
                     g[14], g[15]);
}
