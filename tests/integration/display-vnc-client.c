// SPDX-License-Identifier: MIT
/* A VNC viewer for the vmdisplay tests, on LibVNCClient: connects (with
 * the password in a file), then runs its commands in order.
 *
 *   display-vnc-client [--password-file=F] [--timeout=SEC] SERVER COMMAND...
 *
 * SERVER is HOST::PORT or a Unix socket's path. Commands:
 *   wait-pattern PHASE   until the screen is exactly the test pattern
 *                        (display-pattern.h); prints "pattern PHASE WxH t=US"
 *   wait-message         until the screen is vmdisplay's message (800x600,
 *                        its background in the corner)
 *   save FILE            the screen as a PNG
 *   key KEYSYM down|up   KEYSYM as 0x... or one character; prints "key t=US"
 *   type TEXT            each character pressed and released
 *   pointer X Y MASK     a pointer event (rfb button mask)
 *   sleep MS             waits, handling what the server sends
 *   hold SEC             the same, for an idle viewer; prints "updates N",
 *                        the screen updates it got meanwhile
 *   store-passwd PLAIN OUT  (no SERVER) a vncpasswd file for vncsnapshot
 * Times are CLOCK_MONOTONIC microseconds. Exit 0, 1 on a failed command or
 * time-out, 3 when the connection or its authentication fails. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rfb/rfb.h>
#include <rfb/rfbclient.h>

#include "common/log.h"
#include "display-pattern.h"
#include "vmdisplay/png.h"

static char password[128];
static unsigned timeout_s = 10;
static unsigned long updates; /* FramebufferUpdates received whole */

static void on_update_done(rfbClient *cl) {
        updates++;
}

/* Without a password: NULL, which LibVNCClient refuses as it refuses an
 * empty one, and which it does not leak (it drops an empty string on
 * that path without freeing it). */
static char *get_password(rfbClient *cl) {
        return password[0] ? strdup(password) : NULL;
}

static void client_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void client_log(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("display-vnc-client: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
}

static uint32_t pixel(rfbClient *cl, int x, int y) {
        uint32_t p;
        memcpy(&p, cl->frameBuffer + ((size_t)y * cl->width + x) * 4, 4);
        return p & 0xffffff;
}

static bool is_pattern(rfbClient *cl, unsigned phase) {
        for (int y = 0; y < cl->height; y++)
                for (int x = 0; x < cl->width; x++)
                        if (pixel(cl, x, y) != dp_pixel((uint32_t)x, (uint32_t)y, phase))
                                return false;
        return true;
}

static bool is_message(rfbClient *cl, unsigned phase) {
        return cl->width == 800 && cl->height == 600 && pixel(cl, 0, 0) == 0x1d2b3a;
}

/* Handles server messages until done(cl) holds or ms pass (0: until ms). */
static bool pump(rfbClient *cl, bool (*done)(rfbClient *, unsigned), unsigned arg, uint64_t ms) {
        uint64_t end = now_us(CLOCK_MONOTONIC) + ms * 1000;
        while (!(done && done(cl, arg))) {
                if (now_us(CLOCK_MONOTONIC) >= end)
                        return !done;
                /* LibVNCClient 0.9.14's WaitForMessage only looks at the
                 * socket: a message it has read into its buffer already
                 * would wait there for the next one. */
                int n = cl->buffered ? 1 : WaitForMessage(cl, 5000);
                if (n < 0 || (n > 0 && !HandleRFBServerMessage(cl))) {
                        fprintf(stderr, "display-vnc-client: the connection failed\n");
                        return false;
                }
        }
        return true;
}

static uint32_t keysym_of(const char *s) {
        if (s[0] && !s[1])
                return (uint8_t)s[0];
        return (uint32_t)strtoul(s, NULL, 0);
}

/* One command at argv[0]: how many words it took, 0 when it failed. */
static int command(rfbClient *cl, char **argv, int argc) {
        const char *c = argv[0];
        uint64_t t;
        if (strcmp(c, "wait-pattern") == 0 && argc > 1) {
                unsigned phase = (unsigned)atoi(argv[1]);
                if (!pump(cl, is_pattern, phase, timeout_s * 1000ull))
                        return fprintf(stderr, "display-vnc-client: no pattern %u in %u s\n", phase, timeout_s), 0;
                printf("pattern %u %dx%d t=%llu\n", phase, cl->width, cl->height,
                       (unsigned long long)now_us(CLOCK_MONOTONIC));
                return 2;
        }
        if (strcmp(c, "wait-message") == 0) {
                if (!pump(cl, is_message, 0, timeout_s * 1000ull))
                        return fprintf(stderr, "display-vnc-client: no message screen in %u s\n", timeout_s), 0;
                return 1;
        }
        if (strcmp(c, "save") == 0 && argc > 1) {
                int r = vmd_png_write_file(argv[1], (const uint8_t *)cl->frameBuffer, (uint32_t)cl->width,
                                           (uint32_t)cl->height, (uint32_t)cl->width * 4);
                return r < 0 ? (fprintf(stderr, "display-vnc-client: %s: %s\n", argv[1], strerror(-r)), 0) : 2;
        }
        if (strcmp(c, "key") == 0 && argc > 2) {
                t = now_us(CLOCK_MONOTONIC);
                if (!SendKeyEvent(cl, keysym_of(argv[1]), strcmp(argv[2], "down") == 0))
                        return 0;
                printf("key %s %s t=%llu\n", argv[1], argv[2], (unsigned long long)t);
                return 3;
        }
        if (strcmp(c, "type") == 0 && argc > 1) {
                for (const char *p = argv[1]; *p; p++)
                        if (!SendKeyEvent(cl, (uint8_t)*p, TRUE) || !SendKeyEvent(cl, (uint8_t)*p, FALSE))
                                return 0;
                return 2;
        }
        if (strcmp(c, "pointer") == 0 && argc > 3)
                return SendPointerEvent(cl, atoi(argv[1]), atoi(argv[2]), atoi(argv[3])) ? 4 : 0;
        if (strcmp(c, "sleep") == 0 && argc > 1)
                return pump(cl, NULL, 0, strtoull(argv[1], NULL, 10)) ? 2 : 0;
        if (strcmp(c, "hold") == 0 && argc > 1) {
                unsigned long before = updates;
                if (!pump(cl, NULL, 0, strtoull(argv[1], NULL, 10) * 1000))
                        return 0;
                printf("updates %lu\n", updates - before);
                return 2;
        }
        fprintf(stderr, "display-vnc-client: bad command %s\n", c);
        return 0;
}

static int read_password(const char *path) {
        FILE *f = fopen(path, "r");
        if (!f || !fgets(password, sizeof password, f))
                return -EINVAL;
        fclose(f);
        password[strcspn(password, "\r\n")] = 0;
        return 0;
}

static rfbClient *connect_to(const char *server) {
        rfbClient *cl = rfbGetClient(8, 3, 4);
        /* the server's own format: XRGB8888, 0x00RRGGBB */
        cl->format.redShift = 16, cl->format.greenShift = 8, cl->format.blueShift = 0;
        cl->appData.encodingsString = "zrle raw"; /* lossless */
        cl->appData.enableJPEG = FALSE;
        cl->GetPassword = get_password;
        cl->canHandleNewFBSize = TRUE;
        cl->FinishedFrameBufferUpdate = on_update_done;
        const char *sep = strstr(server, "::");
        if (sep) {
                cl->serverHost = strndup(server, (size_t)(sep - server));
                cl->serverPort = atoi(sep + 2);
        } else
                cl->serverHost = strdup(server);
        return rfbInitClient(cl, NULL, NULL) ? cl : NULL; /* it frees cl on failure */
}

/* LibVNCClient 0.9.14 leaks one string of rfbGetClient's when
 * rfbInitClient fails (a refused password): under the sanitizers that
 * would turn exit 3 into LeakSanitizer's, which the tests read. Only that
 * allocation site is excused. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:rfbGetClient\n";
}

int main(int argc, char **argv) {
        int i = 1;
        rfbClientLog = client_log;
        rfbClientErr = client_log;
        if (argc == 4 && strcmp(argv[1], "store-passwd") == 0)
                return rfbEncryptAndStorePasswd(argv[2], argv[3]) == 0 ? 0 : 1;
        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                if (strncmp(argv[i], "--password-file=", 16) == 0 && read_password(argv[i] + 16) < 0)
                        return fprintf(stderr, "display-vnc-client: cannot read %s\n", argv[i] + 16), 1;
                if (strncmp(argv[i], "--timeout=", 10) == 0)
                        timeout_s = (unsigned)atoi(argv[i] + 10);
        }
        if (i >= argc)
                return fprintf(stderr, "usage: see the head of display-vnc-client.c\n"), 2;
        setvbuf(stdout, NULL, _IOLBF, 0);
        rfbClient *cl = connect_to(argv[i++]);
        if (!cl)
                return fprintf(stderr, "display-vnc-client: connection refused or authentication failed\n"), 3;
        printf("connected %dx%d t=%llu\n", cl->width, cl->height, (unsigned long long)now_us(CLOCK_MONOTONIC));
        int rc = 0;
        while (i < argc) {
                int n = command(cl, argv + i, argc - i);
                if (!n) {
                        rc = 1;
                        break;
                }
                i += n;
        }
        free(cl->frameBuffer); /* the application's: rfbClientCleanup leaves it */
        cl->frameBuffer = NULL;
        rfbClientCleanup(cl);
        return rc;
}
