// SPDX-License-Identifier: MIT
/* vmdisplay's command line (vmdisplay/vmdisplay.h): what it requires,
 * the loopback and password rules, the web console's TLS, addresses, the
 * password file. */
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/test.h"
#include "vmdisplay/vmdisplay.h"

static int parse(struct vmd_options *o, char *err, const char *a0, ...) {
        char *argv[16] = { (char *)"vmdisplay" };
        int argc = 1;
        va_list ap;
        va_start(ap, a0);
        for (const char *a = a0; a && argc < 15; a = va_arg(ap, const char *))
                argv[argc++] = (char *)a;
        va_end(ap);
        return vmd_options_parse(argc, argv, o, err, 256);
}

TEST(what_a_command_line_needs) {
        struct vmd_options o;
        char err[256];
        ASSERT_OK(parse(&o, err, "--connect=/run/d.sock", "--listen=/run/v.sock", NULL));
        ASSERT_STREQ(o.connect, "/run/d.sock");
        ASSERT_EQ(o.max_clients, 4u);
        ASSERT_FALSE(o.tcp.set);
        ASSERT_FALSE(o.web.set);
        ASSERT_ERROR(parse(&o, err, "--listen=/run/v.sock", NULL), EINVAL);
        ASSERT_TRUE(strstr(err, "--connect") != NULL);
        ASSERT_ERROR(parse(&o, err, "--connect=/run/d.sock", NULL), EINVAL); /* serve where? */
        ASSERT_OK(parse(&o, err, "--connect=/d", "--screenshot=/tmp/x.png", "--timeout=2", NULL));
        ASSERT_EQ(o.timeout_ms, 2000u);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--screenshot=x.png", "--listen=/v", NULL), EINVAL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--max-clients=0", NULL), EINVAL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--max-clients=65", NULL), EINVAL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--bogus", NULL), EINVAL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "extra", NULL), EINVAL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--screenshot=x", "--timeout=0", NULL), EINVAL);
}

TEST(login_timeout) {
        struct vmd_options o;
        char err[256];
        ASSERT_OK(parse(&o, err, "--connect=/d", "--listen=/v", NULL));
        ASSERT_EQ(o.login_ms, 0u); /* the server's VMD_VNC_LOGIN_MS */
        ASSERT_OK(parse(&o, err, "--connect=/d", "--listen=/v", "--login-timeout=90", NULL));
        ASSERT_EQ(o.login_ms, 90000u);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--login-timeout=0", NULL), EINVAL);
        ASSERT_STREQ(err, "--login-timeout=0: 1 to 600 seconds");
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--login-timeout=601", NULL), EINVAL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--login-timeout=1s", NULL), EINVAL);
}

TEST(tcp_and_web_need_a_password_and_loopback) {
        struct vmd_options o;
        char err[256];
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--listen-tcp=127.0.0.1:5900", NULL), EINVAL);
        ASSERT_TRUE(strstr(err, "--password-file") != NULL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--web=127.0.0.1:6080", NULL), EINVAL);
        ASSERT_OK(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--listen-tcp=127.0.0.1:5900",
                        "--web=[::1]:6080", NULL));
        ASSERT_TRUE(o.tcp.set);
        ASSERT_STREQ(o.web.text, "[::1]:6080");
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--listen-tcp=0.0.0.0:5900",
                           NULL),
                     EINVAL);
        ASSERT_TRUE(strstr(err, "loopback") != NULL);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--web=192.168.1.2:80", NULL),
                     EINVAL);
        /* off loopback the web console needs TLS */
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--web=192.168.1.2:80",
                           "--allow-remote", NULL),
                     EINVAL);
        ASSERT_NOT_NULL(strstr(err, "needs TLS (--web-cert)"));
        ASSERT_OK(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--listen-tcp=192.168.1.2:5900",
                        "--allow-remote", NULL));
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--listen-tcp=localhost:5900",
                           NULL),
                     EINVAL); /* numeric only */
}

/* The web console over TLS: a certificate (and a key, or the key in it)
 * that exist, only with --web; then allowed off loopback. */
TEST(web_console_tls) {
        struct vmd_options o;
        char err[256], cert[] = "/tmp/test-vmd-cert-XXXXXX";
        int fd = mkstemp(cert);
        ASSERT_GE(fd, 0);
        close(fd);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--web=127.0.0.1:6080",
                           "--web-cert=/nonexistent", NULL),
                     EINVAL);
        ASSERT_NOT_NULL(strstr(err, "--web-cert=/nonexistent: No such file"));
        ASSERT_OK(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--web=192.168.1.2:443",
                        "--allow-remote", "--web-cert", cert, NULL));
        ASSERT_STREQ(o.web_cert, cert);
        ASSERT_NULL(o.web_key);
        ASSERT_OK(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--web=127.0.0.1:6080",
                        "--web-cert", cert, "--web-key", cert, NULL));
        ASSERT_STREQ(o.web_key, cert);
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--web-cert", cert, NULL), EINVAL);
        ASSERT_NOT_NULL(strstr(err, "add --web"));
        ASSERT_ERROR(parse(&o, err, "--connect=/d", "--listen=/v", "--password-file=/p", "--web=127.0.0.1:6080",
                           "--web-key", cert, NULL),
                     EINVAL);
        ASSERT_NOT_NULL(strstr(err, "--web-key needs --web-cert"));
        unlink(cert);
}

TEST(addresses) {
        struct vmd_addr a;
        ASSERT_OK(vmd_addr_parse("127.0.0.1:5900", &a));
        ASSERT_EQ(a.sa.ss_family, AF_INET);
        ASSERT_TRUE(vmd_addr_is_loopback(&a));
        ASSERT_STREQ(a.text, "127.0.0.1:5900");
        ASSERT_OK(vmd_addr_parse("127.9.8.7:1", &a));
        ASSERT_TRUE(vmd_addr_is_loopback(&a));
        ASSERT_OK(vmd_addr_parse("10.0.0.1:65535", &a));
        ASSERT_FALSE(vmd_addr_is_loopback(&a));
        ASSERT_OK(vmd_addr_parse("[::1]:5900", &a));
        ASSERT_EQ(a.sa.ss_family, AF_INET6);
        ASSERT_TRUE(vmd_addr_is_loopback(&a));
        ASSERT_OK(vmd_addr_parse("[::ffff:127.0.0.1]:5900", &a));
        ASSERT_TRUE(vmd_addr_is_loopback(&a));
        ASSERT_OK(vmd_addr_parse("[::]:5900", &a));
        ASSERT_FALSE(vmd_addr_is_loopback(&a));
        ASSERT_OK(vmd_addr_parse("[fe80::1]:5900", &a));
        ASSERT_FALSE(vmd_addr_is_loopback(&a));
        const char *bad[] = { "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:59x",
                              "::1:5900", "[::1]5900", "[::1:5900", "[127.0.0.1]:5900", ":5900", "host:5900",
                              "127.0.0.1:-1", "[]:1", "1.2.3.4.5:1" };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                ASSERT_ERROR(vmd_addr_parse(bad[i], &a), EINVAL);
}

static void write_file(const char *path, const char *text, mode_t mode) {
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        fputs(text, f);
        fclose(f);
        ASSERT_OK(chmod(path, mode));
}

TEST(password_file) {
        char dir[] = "/tmp/test-vmdisplay-pw.XXXXXX", path[96], pw[VMD_PASSWORD_MAX + 1], err[256];
        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(path, sizeof path, "%s/pw", dir);
        write_file(path, "s3cret\r\nsecond line\n", 0600);
        ASSERT_EQ(vmd_password_read(path, pw, sizeof pw, err, sizeof err), 6);
        ASSERT_STREQ(pw, "s3cret");
        write_file(path, "no newline", 0400);
        ASSERT_EQ(vmd_password_read(path, pw, sizeof pw, err, sizeof err), 10);
        write_file(path, "s3cret\n", 0640);
        ASSERT_ERROR(vmd_password_read(path, pw, sizeof pw, err, sizeof err), EPERM);
        ASSERT_TRUE(strstr(err, "chmod 600") != NULL);
        write_file(path, "s3cret\n", 0604);
        ASSERT_ERROR(vmd_password_read(path, pw, sizeof pw, err, sizeof err), EPERM);
        write_file(path, "\nafter an empty line\n", 0600);
        ASSERT_ERROR(vmd_password_read(path, pw, sizeof pw, err, sizeof err), EINVAL);
        write_file(path, "", 0600);
        ASSERT_ERROR(vmd_password_read(path, pw, sizeof pw, err, sizeof err), EINVAL);
        char longpw[200];
        memset(longpw, 'x', sizeof longpw - 1);
        longpw[sizeof longpw - 1] = 0;
        write_file(path, longpw, 0600);
        ASSERT_ERROR(vmd_password_read(path, pw, sizeof pw, err, sizeof err), EINVAL);
        ASSERT_ERROR(vmd_password_read(dir, pw, sizeof pw, err, sizeof err), EINVAL); /* a directory */
        char link[120];
        snprintf(link, sizeof link, "%s/link", dir);
        write_file(path, "s3cret\n", 0600);
        ASSERT_OK(symlink(path, link));
        ASSERT_ERROR(vmd_password_read(link, pw, sizeof pw, err, sizeof err), ELOOP); /* O_NOFOLLOW */
        unlink(link);
        unlink(path);
        ASSERT_ERROR(vmd_password_read(path, pw, sizeof pw, err, sizeof err), ENOENT);
        rmdir(dir);
}

TEST_MAIN();
