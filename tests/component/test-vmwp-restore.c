// SPDX-License-Identifier: MIT
/* vmwp's saved state end to end (docs/vm-state.md) with the tiny PVH
 * guests of vmwp-harness.h: a guest saved in the middle of its serial
 * session goes on in a new worker, a display restores in the sandbox, a
 * state an earlier build wrote (extra sections, an older section, other
 * CPU features) restores or is refused with its reason, a restored guest
 * keeps its time dilation, and bad state is refused. */
#include "vmwp-harness.h"

/* ---- saved state (docs/vm-state.md) ---- */

/* The echo guest restored from the state on fd (closed here) in a new
 * worker echoes what comes on its console at sock and powers off on '.'. */
static void echo_guest_goes_on(int fd, const char *sock, const char *serial) {
        char buf[4096];
        int sv[2];
        struct vmwp_child c = start_worker(sv, "irq", "", serial, fd, NULL);
        close(fd);
        int con = connect_retry(sock);
        ASSERT_GE(con, 0);
        ASSERT_EQ(write(con, "gh.", 3), 3);
        ASSERT_TRUE(read_until(con, "gh.", buf, sizeof buf));
        expect_exit(sv[0], &c, 0, "powered off");
        close(con);
}

/* The interrupt-driven echo guest (IOAPIC, LAPIC, the UART's IER and
 * FIFO-less receive) saved in the middle of its session and resumed in a
 * new worker: it goes on echoing from its interrupt handler and powers off
 * on '.'. A save refused (a read-only fd) leaves it running. */
TEST(save_and_restore_in_a_new_worker) {
        char buf[4096], sock[600], serial[700], state[600];
        snprintf(sock, sizeof sock, "%s/save.sock", dir);
        snprintf(serial, sizeof serial, "socket:%s", sock);
        snprintf(state, sizeof state, "%s/vm.vmrs", dir);
        int sv[2], progress;
        struct vmwp_child c = start_worker(sv, "irq", "", serial, -1, NULL);
        int con = connect_retry(sock);
        ASSERT_GE(con, 0);
        ASSERT_EQ(write(con, "ab", 2), 2);
        ASSERT_TRUE(read_until(con, "ab", buf, sizeof buf));

        int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
        struct json_object *m = vmwp_ctl_save(sv[0], ro, &progress);
        close(ro);
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "false");
        json_object_put(m);
        ASSERT_EQ(write(con, "cd", 2), 2); /* still running */
        ASSERT_TRUE(read_until(con, "cd", buf, sizeof buf));

        int fd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        m = vmwp_ctl_save(sv[0], fd, &progress);
        if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        ASSERT_EQ((long long)st.st_size, (long long)json_object_get_int64(json_object_object_get(m, "bytes")));
        json_object_put(m);
        close(fd);
        /* How tests/fixtures/saved-state/irq-echo.vmrs.xz was made (its README). */
        const char *keep = getenv("VM_KEEP_SAVED_STATE");
        if (keep) {
                char cmd[1500];
                snprintf(cmd, sizeof cmd, "cp '%s' '%s'", state, keep);
                ASSERT_EQ(system(cmd), 0);
        }
        m = vmwp_ctl_request(sv[0], "{\"op\":\"status\",\"id\":10}");
        ASSERT_STREQ(vmwp_ctl_str(m, "state"), "paused");
        json_object_put(m);
        /* Typed while saved: waits in the socket, reaches the restored guest. */
        ASSERT_EQ(write(con, "ef", 2), 2);
        m = vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":11}");
        json_object_put(m);
        expect_exit(sv[0], &c, 14, "stopped by vmms");
        close(con);

        fd = open(state, O_RDONLY | O_CLOEXEC);
        echo_guest_goes_on(fd, sock, serial);
}

/* Saves the worker on sock into path; it stays paused. */
static void save_into(int sock, const char *path) {
        int progress;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0);
        struct json_object *m = vmwp_ctl_save(sock, fd, &progress);
        if (strcmp(vmwp_ctl_str(m, "ok"), "true") != 0)
                ASSERT_STREQ(vmwp_ctl_str(m, "error"), "");
        json_object_put(m);
        close(fd);
}

/* A sandboxed worker with a display and nothing else that punches holes
 * (no disk, no Dynamic Memory) restores a saved state: the VRAM's chunks
 * the state leaves out (here all of them) are punched out of its memfd on
 * the vCPU launcher thread, which the video policy must allow (it did
 * not: the worker ended on SIGSYS). */
TEST(a_display_restores_in_the_sandbox_without_disks) {
        int sv[2];
        char state[600], extra[64], json[4096];
        snprintf(state, sizeof state, "%s/display.vmrs", dir);
        snprintf(extra, sizeof extra, ",\"display\":{\"enabled\":true}");
        ASSERT_GT(test_read_file(setup("basic", "h", 1, extra), json, sizeof json), 0u);
        const char *args[] = { "--control-fd", "3", NULL };
        struct vmwp_child c = vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, -1, sv, NULL);
        save_into(sv[0], state);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":11}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms");
        int fd = open(state, O_RDONLY | O_CLOEXEC);
        c = vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, fd, sv, NULL);
        close(fd);
        struct json_object *m = vmwp_ctl_request(sv[0], "{\"op\":\"status\",\"id\":12}");
        ASSERT_STREQ(vmwp_ctl_str(m, "state"), "running");
        json_object_put(m);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":13}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms");
}

/* Writes the saved state data (len bytes) to path with one more small
 * section, tagged ZZZZ (a tag no build reads) and flagged as given, before
 * its end section (the last 32 bytes). Returns an fd open on it. */
static int write_with_extra_section(const char *path, const uint8_t *data, size_t len, uint16_t flags) {
        char tmp[700];
        snprintf(tmp, sizeof tmp, "%s.extra", path);
        int t = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(t, 0);
        struct vmstate_writer *w;
        ASSERT_OK(vmstate_writer_new(t, 0, &w));
        ASSERT_OK(vmstate_begin(w, VMSTATE_TAG('Z', 'Z', 'Z', 'Z'), 0, 1, flags));
        ASSERT_OK(vmstate_put_u32(w, 1, 42));
        ASSERT_OK(vmstate_end(w));
        ASSERT_OK(vmstate_finish(w));
        vmstate_writer_free(w);
        uint8_t extra[256];
        ssize_t n = pread(t, extra, sizeof extra, 0);
        close(t);
        unlink(tmp);
        ASSERT_GT(n, (ssize_t)(VMSTATE_HEADER_SIZE + VMSTATE_SECTION_HEADER_SIZE));
        int b = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(b, 0);
        size_t body = len - VMSTATE_SECTION_HEADER_SIZE, section = (size_t)n - VMSTATE_HEADER_SIZE -
                                                                    VMSTATE_SECTION_HEADER_SIZE;
        ASSERT_EQ(write(b, data, body), (ssize_t)body);
        ASSERT_EQ(write(b, extra + VMSTATE_HEADER_SIZE, section), (ssize_t)section);
        ASSERT_EQ(write(b, data + body, VMSTATE_SECTION_HEADER_SIZE), (ssize_t)VMSTATE_SECTION_HEADER_SIZE);
        ASSERT_EQ(lseek(b, 0, SEEK_SET), 0);
        return b;
}

/* All of the file open on fd (*len bytes; free it). */
static uint8_t *read_whole(int fd, size_t *len) {
        struct stat st;
        ASSERT_OK(fstat(fd, &st));
        uint8_t *data = malloc((size_t)st.st_size);
        ASSERT_NOT_NULL(data);
        ASSERT_EQ(pread(fd, data, (size_t)st.st_size, 0), st.st_size);
        *len = (size_t)st.st_size;
        return data;
}

/* Writes the saved state data (len bytes) to path with section `old`
 * replaced by the one vmstate_test_encode() wrote into sec (its file
 * header skipped, its end section left out). Returns an fd open on it. */
static int write_with_section(const char *path, const uint8_t *data, size_t len, const struct vmstate_section *old,
                              const uint8_t *sec, size_t sec_len) {
        size_t at = (size_t)old->offset, after = at + VMSTATE_SECTION_HEADER_SIZE + ALIGN_UP((size_t)old->length, 8u);
        size_t body = sec_len - VMSTATE_HEADER_SIZE - VMSTATE_SECTION_HEADER_SIZE;
        int b = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(b, 0);
        ASSERT_EQ(write(b, data, at), (ssize_t)at);
        ASSERT_EQ(write(b, sec + VMSTATE_HEADER_SIZE, body), (ssize_t)body);
        ASSERT_EQ(write(b, data + after, len - after), (ssize_t)(len - after));
        ASSERT_EQ(lseek(b, 0, SEEK_SET), 0);
        return b;
}

/* Writes the saved state data (len bytes) to path with its CPID section
 * (the guest's CPUID) claiming a feature this host lacks, named in *name,
 * as a state saved on a host with more would. Returns an fd open on it. */
static int write_with_cpuid_claim(const char *path, const uint8_t *data, size_t len, const char **name) {
        static struct vmstate_section secs[VMSTATE_SECTIONS_MAX];
        char err[256] = "";
        int n = vmstate_index(data, len, NULL, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        ASSERT_GT(n, 0);
        const struct vmstate_section *cpid = vmstate_find(secs, (size_t)n, VMSTATE_TAG('C', 'P', 'I', 'D'), 0);
        ASSERT_NOT_NULL(cpid);
        struct vid_cpuid_state *cs = malloc(sizeof *cs);
        ASSERT_OK(vid_cpuid_state_decode(cpid, cs, err, sizeof err));
        *name = test_cpuid_claim_missing(cs);
        ASSERT_NOT_NULL(*name);
        uint8_t *sec;
        size_t sec_len;
        ASSERT_OK(vmstate_test_encode(&vid_cpuid_state_desc, 0, cs, &sec, &sec_len));
        free(cs);
        int b = write_with_section(path, data, len, cpid, sec, sec_len);
        free(sec);
        return b;
}

/* The state in *data (*len bytes, indexed in secs[*n]) with section old
 * replaced by st encoded as d says, written to a file of the test's and
 * read and indexed again. */
static void retake(uint8_t **data, size_t *len, struct vmstate_section *secs, int *n, const struct vmstate_section *old,
                   const struct vmstate_desc *d, const void *st) {
        static unsigned k;
        char path[600], err[256] = "";
        uint8_t *sec;
        size_t sec_len;
        ASSERT_NOT_NULL(old);
        ASSERT_OK(vmstate_test_encode(d, old->instance, st, &sec, &sec_len));
        snprintf(path, sizeof path, "%s/retaken-%u.vmrs", dir, k++);
        int fd = write_with_section(path, *data, *len, old, sec, sec_len);
        free(sec);
        free(*data);
        *data = read_whole(fd, len);
        close(fd);
        *n = vmstate_index(*data, *len, NULL, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        ASSERT_GT(*n, 0);
}

/* XCR0 of the saved vCPU i; its whole state into vs. */
static uint64_t saved_xcr0(const struct vmstate_section *secs, size_t n, uint32_t i, struct vid_vp_state *vs) {
        char err[256] = "";
        const struct vmstate_section *s = vmstate_find(secs, n, VID_STATE_TAG_VP, i);
        ASSERT_NOT_NULL(s);
        ASSERT_OK(vid_vp_state_decode(s, vs, err, sizeof err));
        uint64_t xcr0 = 0;
        for (uint32_t k = 0; k < vs->n_xcr_index; k++)
                if (vs->xcr_index[k] == 0)
                        xcr0 = vs->xcr_value[k];
        return xcr0;
}

/* The XSAVE components a CPID section's CPUID offers (leaf 0xD.0). */
static uint64_t cpuid_xfeatures(const struct vmstate_section *cpid) {
        struct vid_cpuid_state *cs = malloc(sizeof *cs);
        char err[256] = "";
        ASSERT_NOT_NULL(cs);
        ASSERT_OK(vid_cpuid_state_decode(cpid, cs, err, sizeof err));
        uint64_t x = 0;
        for (uint32_t k = 0; k < cs->n_function; k++)
                if (cs->function[k] == 0xd && cs->index[k] == 0)
                        x = (uint64_t)cs->edx[k] << 32 | cs->eax[k];
        free(cs);
        ASSERT_TRUE(x & 1); /* x87 at least */
        return x;
}

/* A saved state written by an earlier build restores in this one
 * (docs/saved-state.md, "Compatibility rules"): the interrupt-driven echo
 * guest of save_and_restore_in_a_new_worker, saved by the build named in
 * tests/fixtures/saved-state/README.md before the device model was
 * restructured (#56), goes on echoing and powers off on '.'. Its CPID
 * section (the guest's CPUID, which depends on the host it was saved on)
 * is replaced by a fresh save's from this host, and its TSC rate by this
 * host's, so what is tested is the devices' and the vCPUs' formats, not
 * this host's CPU. */
TEST(a_state_saved_by_an_earlier_build_restores) {
        char cmd[2000], old[600], fresh[600], patched[600], sock[600], serial[700], err[256] = "";
        const char *src = getenv("VM_SOURCE_DIR");
        snprintf(old, sizeof old, "%s/irq-echo.vmrs", dir);
        snprintf(cmd, sizeof cmd, "xz -dc '%s/tests/fixtures/saved-state/irq-echo.vmrs.xz' > '%s'", src ? src : ".",
                 old);
        ASSERT_EQ(system(cmd), 0);
        snprintf(fresh, sizeof fresh, "%s/fresh.vmrs", dir);
        snprintf(patched, sizeof patched, "%s/patched.vmrs", dir);
        snprintf(sock, sizeof sock, "%s/fixture.sock", dir);
        snprintf(serial, sizeof serial, "socket:%s", sock);
        int sv[2];
        struct vmwp_child c = start_worker(sv, "irq", "", serial, -1, NULL);
        int con = connect_retry(sock);
        ASSERT_GE(con, 0);
        save_into(sv[0], fresh);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":11}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms");
        close(con);

        static struct vmstate_section olds[VMSTATE_SECTIONS_MAX], freshs[VMSTATE_SECTIONS_MAX];
        size_t old_len, fresh_len;
        int fd = open(old, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint8_t *od = read_whole(fd, &old_len);
        close(fd);
        fd = open(fresh, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        uint8_t *fd_data = read_whole(fd, &fresh_len);
        close(fd);
        int no = vmstate_index(od, old_len, NULL, olds, VMSTATE_SECTIONS_MAX, err, sizeof err);
        if (no <= 0)
                ASSERT_STREQ(err, "");
        int nf = vmstate_index(fd_data, fresh_len, NULL, freshs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        ASSERT_GT(nf, 0);
        const struct vmstate_section *oc = vmstate_find(olds, (size_t)no, VMSTATE_TAG('C', 'P', 'I', 'D'), 0);
        const struct vmstate_section *fc = vmstate_find(freshs, (size_t)nf, VMSTATE_TAG('C', 'P', 'I', 'D'), 0);
        ASSERT_NOT_NULL(oc);
        ASSERT_NOT_NULL(fc);
        /* The TSC rate too (the PART section's tsc_khz): a host whose TSC
         * runs at another rate restores the state only where KVM scales the
         * TSC, and the emulated AMD-V host's KVM cannot (the worker then
         * refuses it, naming both rates: vid/state.c). */
        const struct vmstate_section *op = vmstate_find(olds, (size_t)no, VID_STATE_TAG_PART, 0);
        const struct vmstate_section *fp = vmstate_find(freshs, (size_t)nf, VID_STATE_TAG_PART, 0);
        ASSERT_NOT_NULL(op);
        ASSERT_NOT_NULL(fp);
        struct vid_partition_state ops, fps;
        ASSERT_OK(vid_partition_state_decode(op, &ops, err, sizeof err));
        ASSERT_OK(vid_partition_state_decode(fp, &fps, err, sizeof err));
        if (ops.tsc_khz != fps.tsc_khz) {
                printf("# the fixture's TSC ran at %u kHz, this host's at %u kHz: its rate is taken\n", ops.tsc_khz,
                       fps.tsc_khz);
                ops.tsc_khz = fps.tsc_khz;
                retake(&od, &old_len, olds, &no, op, &vid_partition_state_desc, &ops);
        }
        /* And the extended states this host cannot hold (the fixture's
         * XSAVE image has PKRU's, bit 9, which a host without PKU lacks; the
         * echo guest never uses them): KVM refuses an XSAVE image or an
         * XCR0 with a component the guest's CPUID, now this host's, does
         * not offer (leaf 0xD: EDX:EAX). */
        /* Likewise the MSRs this host's KVM does not list (it refuses
         * them), and this host's values of those that report what the CPU
         * can do (IA32_FEATURE_CONTROL, ARCH_CAPABILITIES,
         * PERF_CAPABILITIES, the microcode revision, the VMX capabilities):
         * KVM refuses a capability this host lacks. The fixture's values of
         * the others (the guest's own registers) are kept. */
        uint64_t host_xfeatures = cpuid_xfeatures(fc);
        struct vid_vp_state *fresh_vp = malloc(sizeof *fresh_vp);
        ASSERT_NOT_NULL(fresh_vp);
        (void)saved_xcr0(freshs, (size_t)nf, 0, fresh_vp);
        for (uint32_t i = 0; i < ops.n_vps; i++) {
                struct vid_vp_state *vs = malloc(sizeof *vs);
                ASSERT_NOT_NULL(vs);
                uint64_t xcr0 = saved_xcr0(olds, (size_t)no, i, vs), bv;
                bool changed = false;
                ASSERT_TRUE(vs->xsave_len >= 520);
                memcpy(&bv, vs->xsave + 512, 8); /* the XSAVE header's XSTATE_BV */
                if ((xcr0 | bv) & ~host_xfeatures) {
                        printf("# vCPU %u: the fixture's XCR0 0x%llx and XSTATE_BV 0x%llx, this host's components 0x%llx: "
                               "the others' state is dropped\n",
                               i, (unsigned long long)xcr0, (unsigned long long)bv, (unsigned long long)host_xfeatures);
                        for (uint32_t k = 0; k < vs->n_xcr_index; k++)
                                if (vs->xcr_index[k] == 0)
                                        vs->xcr_value[k] &= host_xfeatures;
                        bv &= host_xfeatures;
                        memcpy(vs->xsave + 512, &bv, 8);
                        changed = true;
                }
                uint32_t kept = 0;
                for (uint32_t k = 0; k < vs->n_msr_index; k++) {
                        uint32_t idx = vs->msr_index[k], f = 0;
                        while (f < fresh_vp->n_msr_index && fresh_vp->msr_index[f] != idx)
                                f++;
                        if (f == fresh_vp->n_msr_index)
                                continue;
                        bool capability = idx == 0x3a || idx == 0x8b || idx == 0x10a || idx == 0x345 ||
                                          (idx >= 0x480 && idx <= 0x491);
                        vs->msr_index[kept] = idx;
                        vs->msr_value[kept++] = capability ? fresh_vp->msr_value[f] : vs->msr_value[k];
                }
                if (kept != vs->n_msr_index) {
                        printf("# vCPU %u: %u of the fixture's %u MSRs are this host's KVM's\n", i, kept, vs->n_msr_index);
                        vs->n_msr_index = vs->n_msr_value = kept;
                        changed = true;
                }
                if (changed)
                        retake(&od, &old_len, olds, &no, vmstate_find(olds, (size_t)no, VID_STATE_TAG_VP, i),
                               &vid_vp_state_desc, vs);
                free(vs);
        }
        free(fresh_vp);
        oc = vmstate_find(olds, (size_t)no, VMSTATE_TAG('C', 'P', 'I', 'D'), 0);
        ASSERT_NOT_NULL(oc);
        /* The fresh CPID section framed as write_with_section takes it: a
         * file header before it, an end section after it. */
        size_t body = VMSTATE_SECTION_HEADER_SIZE + ALIGN_UP((size_t)fc->length, 8u);
        size_t sec_len = VMSTATE_HEADER_SIZE + body + VMSTATE_SECTION_HEADER_SIZE;
        uint8_t *sec = calloc(1, sec_len);
        ASSERT_NOT_NULL(sec);
        memcpy(sec + VMSTATE_HEADER_SIZE, fd_data + fc->offset, body);
        fd = write_with_section(patched, od, old_len, oc, sec, sec_len);
        free(sec);
        free(od);
        free(fd_data);

        echo_guest_goes_on(fd, sock, serial);
}

/* The hv_sock offer timeout the worker on fd reports in its stats. */
static int hvsock_offer_timeout(int fd, int id) {
        char req[64];
        snprintf(req, sizeof req, "{\"op\":\"stats\",\"id\":%d}", id);
        struct json_object *m = vmwp_ctl_request(fd, req);
        while (m && vmwp_ctl_int(m, "id") != id) { /* an event came first */
                json_object_put(m);
                m = vmwp_ctl_recv(fd);
        }
        struct json_object *hv = NULL;
        ASSERT_TRUE(m && json_object_object_get_ex(m, "hvsock", &hv));
        int ms = vmwp_ctl_int(hv, "offer_timeout_ms");
        json_object_put(m);
        return ms;
}

/* A guest keeps the clock it was saved with, and the host's waits on it
 * follow: restored from a state whose hvshim section says time dilation 8
 * (a Linux guest saved on a PVM host), a worker here, which gives a PVH
 * guest 1, waits 8 x 5 s for the guest to open an hv_sock offer. It
 * waited 5 s (the timeout was fixed from this host's choice when the
 * provider was made, before the restore). */
TEST(a_restored_guest_keeps_its_time_dilation_for_hvsock_offers) {
        int sv[2];
        char state[600], spliced[600], json[4096];
        snprintf(state, sizeof state, "%s/dilation.vmrs", dir);
        snprintf(spliced, sizeof spliced, "%s/dilation8.vmrs", dir);
        ASSERT_GT(test_read_file(setup("basic", "h", 1, ",\"hvsock\":{\"enabled\":true}"), json, sizeof json), 0u);
        const char *args[] = { "--control-fd", "3", NULL };
        struct vmwp_child c = vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, -1, sv, NULL);
        ASSERT_EQ(hvsock_offer_timeout(sv[0], 1), (int)HVSOCK_OFFER_TIMEOUT_MS);
        save_into(sv[0], state);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":2}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms");

        int fd = open(state, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        size_t len;
        uint8_t *data = read_whole(fd, &len);
        close(fd);
        static struct vmstate_section secs[VMSTATE_SECTIONS_MAX];
        char err[256] = "";
        int n = vmstate_index(data, len, NULL, secs, VMSTATE_SECTIONS_MAX, err, sizeof err);
        ASSERT_GT(n, 0);
        const struct vmstate_section *hvpt = vmstate_find(secs, (size_t)n, HVSHIM_STATE_TAG_PARTITION, 0);
        ASSERT_NOT_NULL(hvpt);
        struct hvshim_partition_state ps;
        ASSERT_OK(hvshim_partition_state_decode(hvpt, &ps, err, sizeof err));
        ASSERT_EQ(ps.time_dilation, 1u);
        ps.time_dilation = 8;
        uint8_t *sec;
        size_t sec_len;
        ASSERT_OK(vmstate_test_encode(&hvshim_partition_state_desc, 0, &ps, &sec, &sec_len));
        fd = write_with_section(spliced, data, len, hvpt, sec, sec_len);
        free(sec);
        free(data);

        c = vmwp_child_start_controlled(vmwp_bin, args, json, NULL, 0, fd, sv, NULL);
        close(fd);
        ASSERT_EQ(hvsock_offer_timeout(sv[0], 3), 8 * (int)HVSOCK_OFFER_TIMEOUT_MS);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":4}"));
        expect_exit(sv[0], &c, 14, "stopped by vmms");
}

/* A state that is corrupt, truncated, or for another configuration is
 * refused before the guest runs: exit 3 with a reason naming the problem. */
TEST(restore_refuses_bad_state) {
        char state[600], bad[600];
        snprintf(state, sizeof state, "%s/ok.vmrs", dir);
        snprintf(bad, sizeof bad, "%s/bad.vmrs", dir);
        int sv[2], progress;
        struct vmwp_child c = start_worker(sv, "basic", "h", NULL, -1, NULL);
        int fd = open(state, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        struct json_object *m = vmwp_ctl_save(sv[0], fd, &progress);
        ASSERT_STREQ(vmwp_ctl_str(m, "ok"), "true");
        json_object_put(m);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":2}"));
        expect_exit(sv[0], &c, 14, NULL);
        size_t len;
        uint8_t *data = read_whole(fd, &len);
        close(fd);
        static const struct {
                const char *what;
                off_t cut;    /* > 0: truncate to this many bytes */
                off_t flip;   /* > 0: flip a bit here */
                const char *reason;
        } cases[] = {
                { "truncated", 4096, 0, "saved state:" },
                { "header", 0, 3, "saved state:" },
                { "a section", 0, 40, "saved state:" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                int b = open(bad, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                ASSERT_EQ(write(b, data, cases[i].cut ? (size_t)cases[i].cut : len),
                          cases[i].cut ? (ssize_t)cases[i].cut : (ssize_t)len);
                if (cases[i].flip) {
                        uint8_t x = data[cases[i].flip] ^ 0x10;
                        ASSERT_EQ(pwrite(b, &x, 1, cases[i].flip), 1);
                }
                struct json_object *ev = NULL;
                c = start_worker(sv, "basic", "h", NULL, b, &ev);
                close(b);
                ASSERT_NOT_NULL(ev);
                ASSERT_EQ(vmwp_ctl_int(ev, "status"), 3);
                if (!strstr(vmwp_ctl_str(ev, "reason"), cases[i].reason))
                        ASSERT_STREQ(vmwp_ctl_str(ev, "reason"), cases[i].what);
                json_object_put(ev);
                char err[8192];
                ASSERT_EQ(vmwp_child_finish(&c, 30, err, sizeof err), 3);
                close(sv[0]);
        }
        /* A section no device reads (docs/saved-state.md, "Compatibility
         * rules"): refused, naming it, unless a newer build flagged it
         * optional, in which case the VM comes back. */
        int b = write_with_extra_section(bad, data, len, 0);
        struct json_object *ev = NULL;
        c = start_worker(sv, "basic", "h", NULL, b, &ev);
        close(b);
        ASSERT_NOT_NULL(ev);
        ASSERT_EQ(vmwp_ctl_int(ev, "status"), 3);
        if (!strstr(vmwp_ctl_str(ev, "reason"), "section ZZZZ #0"))
                ASSERT_STREQ(vmwp_ctl_str(ev, "reason"), "refused, naming ZZZZ");
        json_object_put(ev);
        char err[8192];
        ASSERT_EQ(vmwp_child_finish(&c, 30, err, sizeof err), 3);
        close(sv[0]);
        b = write_with_extra_section(bad, data, len, VMSTATE_SECTION_OPTIONAL);
        c = start_worker(sv, "basic", "h", NULL, b, NULL);
        close(b);
        m = vmwp_ctl_request(sv[0], "{\"op\":\"status\",\"id\":3}");
        ASSERT_STREQ(vmwp_ctl_str(m, "state"), "running");
        json_object_put(m);
        json_object_put(vmwp_ctl_request(sv[0], "{\"op\":\"stop\",\"id\":4}"));
        expect_exit(sv[0], &c, 14, NULL);

        /* Saved where the guest was offered a feature this host lacks:
         * refused before it runs, naming the feature. */
        const char *name;
        b = write_with_cpuid_claim(bad, data, len, &name);
        ev = NULL;
        c = start_worker(sv, "basic", "h", NULL, b, &ev);
        close(b);
        ASSERT_NOT_NULL(ev);
        ASSERT_EQ(vmwp_ctl_int(ev, "status"), 3);
        if (!strstr(vmwp_ctl_str(ev, "reason"), name) ||
            !strstr(vmwp_ctl_str(ev, "reason"), "saved state: this host's CPU lacks a feature the guest was offered"))
                ASSERT_STREQ(vmwp_ctl_str(ev, "reason"), name);
        json_object_put(ev);
        ASSERT_EQ(vmwp_child_finish(&c, 30, err, sizeof err), 3);
        close(sv[0]);
        free(data);
}

VMWP_TEST_MAIN()
