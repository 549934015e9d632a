// SPDX-License-Identifier: MIT
/* vmwp_control_assign_fds (vmwp/control.h) with VHDX parents: the config
 * message's fds are the disks, the TAPs, the "files", then the parents
 * that "disk_parents" counts per disk (common/proto.h); every other fd
 * keeps its place, and a count that does not match is refused with all
 * fds closed. */
#include <json-c/json.h>
#include <sys/eventfd.h>

#include "common/macro.h"
#include "tests/lib/control-message.h"
#include "common/test.h"
#include "vmwp/control.h"
#include "vmwp/vm.h"

static struct vm_config cfg;
static struct vmwp_vm_options opt;
static char err[256];

static struct json_object *message(const char *json) {
        return control_message(json, &cfg, &opt);
}

static void close_fds(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

#define TWO_DISKS                                                                                   \
        "{\"op\":\"config\",\"config\":{\"name\":\"f\",\"memory_mib\":64,\"boot\":{\"kernel\":\"/k\"}," \
        "\"serial_log\":\"/l\",\"disks\":[{\"path\":\"/a.img\"},{\"path\":\"/c.avhdx\",\"lun\":1}],"          \
        "\"nics\":[{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"tap0\"}]},\"files\":[\"kernel\",\"serial_log\"]"

TEST(parents_come_last_and_go_to_their_disk) {
        struct json_object *m = message(TWO_DISKS ",\"disk_parents\":[0,2]}");
        int fds[7];
        control_new_fds(fds, 7); /* 2 disks, 1 TAP, kernel, serial_log, 2 parents */
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, 7, &opt, err, sizeof err), 0);
        ASSERT_EQ(opt.n_disk_fds, 2u);
        ASSERT_EQ(opt.disk_fds[1], fds[1]);
        ASSERT_EQ(opt.tap_fds[0], fds[2]);
        ASSERT_EQ(opt.kernel_fd, fds[3]);
        ASSERT_EQ(opt.serial_log_fd, fds[4]);
        ASSERT_EQ(opt.n_parent_fds, 2u);
        ASSERT_EQ(opt.parent_fds[0], fds[5]);
        ASSERT_EQ(opt.parent_fds[1], fds[6]);
        ASSERT_EQ(opt.n_disk_parents[0], 0u);
        ASSERT_EQ(opt.n_disk_parents[1], 2u);
        close_fds(fds, 7);
        json_object_put(m);
}

TEST(no_disk_parents_means_none) {
        struct json_object *m = message(TWO_DISKS "}");
        int fds[5];
        control_new_fds(fds, 5);
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, 5, &opt, err, sizeof err), 0);
        ASSERT_EQ(opt.n_parent_fds, 0u);
        ASSERT_EQ(opt.n_disk_parents[1], 0u);
        close_fds(fds, 5);
        json_object_put(m);
}

static void refused(const char *json, size_t n, const char *why) {
        struct json_object *m = message(json);
        int fds[8];
        control_new_fds(fds, n);
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, n, &opt, err, sizeof err), -EINVAL);
        if (!strstr(err, why))
                fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err, why);
        ASSERT_NOT_NULL(strstr(err, why));
        for (size_t i = 0; i < n; i++)
                ASSERT_FALSE(control_fd_is_open(fds[i]));
        json_object_put(m);
}

TEST(counts_that_do_not_match_are_refused_and_the_fds_closed) {
        refused(TWO_DISKS ",\"disk_parents\":[0,2]}", 6, "expected 2 disk + 1 TAP + 2 file + 0 DVD + 2 parent fds");
        refused(TWO_DISKS ",\"disk_parents\":[0,1]}", 7, "received 7 fds");
        refused(TWO_DISKS ",\"disk_parents\":[1]}", 6, "one count per disk");
        refused(TWO_DISKS ",\"disk_parents\":[1,0]}", 6, "only for a VHDX disk");
        refused(TWO_DISKS ",\"disk_parents\":[0,17]}", 5, "0..16 parents");
        refused(TWO_DISKS ",\"disk_parents\":[0,-1]}", 5, "0..16 parents");
        refused(TWO_DISKS ",\"disk_parents\":[0,\"1\"]}", 6, "0..16 parents");
        refused(TWO_DISKS ",\"disk_parents\":{}}", 5, "one count per disk");
}

/* "nic_queues": a NIC's TAP queue fds, NIC by NIC where the one TAP fd
 * was; at most the NIC's queues, at most one per vCPU. */
#define QUEUED_NICS                                                                                    \
        "{\"op\":\"config\",\"config\":{\"name\":\"q\",\"memory_mib\":64,\"vcpus\":2,"                 \
        "\"boot\":{\"kernel\":\"/k\"},\"disks\":[{\"path\":\"/a.img\"}],\"nics\":["                     \
        "{\"mac\":\"00:15:5d:00:00:01\",\"tap\":\"tap0\",\"queues\":4},"                                \
        "{\"mac\":\"00:15:5d:00:00:02\",\"tap\":\"tap1\"}]},\"files\":[\"kernel\"]"

TEST(nic_queues_give_each_nic_its_fds) {
        struct json_object *m = message(QUEUED_NICS ",\"nic_queues\":[2,1]}");
        int fds[5];
        control_new_fds(fds, 5); /* 1 disk, 2 + 1 TAP queues, kernel */
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, 5, &opt, err, sizeof err), 0);
        ASSERT_EQ(opt.n_tap_fds, 3u);
        ASSERT_EQ(opt.tap_fds[0], fds[1]);
        ASSERT_EQ(opt.tap_fds[1], fds[2]);
        ASSERT_EQ(opt.tap_fds[2], fds[3]);
        ASSERT_EQ(opt.n_nic_queues[0], 2u);
        ASSERT_EQ(opt.n_nic_queues[1], 1u);
        ASSERT_EQ(opt.kernel_fd, fds[4]);
        close_fds(fds, 5);
        json_object_put(m);
}

/* "nic_steer": a NIC's RSS steering map after its queues (the TAP fds'
 * table holds it there), only for a NIC with 2 or more. */
TEST(nic_steer_brings_a_map_after_the_queues) {
        struct json_object *m = message(QUEUED_NICS ",\"nic_queues\":[2,1],\"nic_steer\":[true,false]}");
        int fds[6];
        control_new_fds(fds, 6); /* 1 disk, 2 TAP queues + the map, 1 TAP queue, kernel */
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, 6, &opt, err, sizeof err), 0);
        ASSERT_EQ(opt.n_tap_fds, 4u);
        ASSERT_EQ(opt.tap_fds[2], fds[3]);
        ASSERT_TRUE(opt.nic_steer[0]);
        ASSERT_FALSE(opt.nic_steer[1]);
        ASSERT_EQ(opt.kernel_fd, fds[5]);
        close_fds(fds, 6);
        json_object_put(m);
        refused(QUEUED_NICS ",\"nic_queues\":[2,1],\"nic_steer\":[true,true]}", 7, "2 or more queues");
        refused(QUEUED_NICS ",\"nic_queues\":[2,1],\"nic_steer\":[1,false]}", 6, "a boolean");
        refused(QUEUED_NICS ",\"nic_queues\":[2,1],\"nic_steer\":[true]}", 6, "one boolean per NIC");
        refused(QUEUED_NICS ",\"nic_queues\":[2,1],\"nic_steer\":[true,false]}", 5, "expected 1 disk + 4 TAP");
}

TEST(nic_queues_out_of_range_are_refused) {
        refused(QUEUED_NICS ",\"nic_queues\":[3,1]}", 6, "the NIC's queues"); /* 2 vCPUs */
        refused(QUEUED_NICS ",\"nic_queues\":[1,2]}", 5, "the NIC's queues"); /* queues 1 */
        refused(QUEUED_NICS ",\"nic_queues\":[0,1]}", 3, "the NIC's queues");
        refused(QUEUED_NICS ",\"nic_queues\":[2]}", 5, "one count per NIC");
        refused(QUEUED_NICS ",\"nic_queues\":[2,1]}", 4, "expected 1 disk + 3 TAP");
}

/* "hot_plug": what the VM may get while it runs, prepared for at start
 * (docs/vmwp.md "Disks and NICs of a running VM"); no fds of its own. */
TEST(hot_plug_options) {
        struct json_object *m = message(TWO_DISKS ",\"hot_plug\":{\"nics\":true,\"max_file_size\":1099511627776}}");
        int fds[5];
        control_new_fds(fds, 5);
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, 5, &opt, err, sizeof err), 0);
        ASSERT_FALSE(opt.hotplug_disks);
        ASSERT_TRUE(opt.hotplug_nics);
        ASSERT_EQ(opt.hotplug_file_size, 1ull << 40);
        close_fds(fds, 5);
        json_object_put(m);
        m = message(TWO_DISKS "}");
        control_new_fds(fds, 5);
        ASSERT_EQ(vmwp_control_assign_fds(&cfg, m, fds, 5, &opt, err, sizeof err), 0);
        ASSERT_FALSE(opt.hotplug_disks || opt.hotplug_nics || opt.hotplug_file_size);
        close_fds(fds, 5);
        json_object_put(m);
        refused(TWO_DISKS ",\"hot_plug\":true}", 5, "\"hot_plug\" must be");
        refused(TWO_DISKS ",\"hot_plug\":{\"disks\":1}}", 5, "\"hot_plug\" must be");
        refused(TWO_DISKS ",\"hot_plug\":{\"max_file_size\":-1}}", 5, "\"hot_plug\" must be");
        refused(TWO_DISKS ",\"hot_plug\":{\"cdrom\":true}}", 5, "\"hot_plug\" must be");
}

/* The dispatcher (vmwp_control_handle) keeps of a request's fds what the
 * op's row in common/proto.h says and closes the others. */
static int seen_fd = -2;
static struct json_object *take_one(void *o, struct vmwp_request *rq) {
        seen_fd = rq->fd;
        safe_close(rq->fd);
        return vmwp_control_reply(rq, 0, "");
}

static void dispatch(const char *json, int *fds, size_t n) {
        static const struct vmwp_control_ops ops = { .fcopy = take_one, .save = take_one };
        struct json_object *req = json_tokener_parse(json), *rep;
        ASSERT_NOT_NULL(req);
        const char *state;
        seen_fd = -2;
        ASSERT_NOT_NULL(rep = vmwp_control_handle(&ops, NULL, req, fds, n, &state));
        json_object_put(rep);
        json_object_put(req);
}

TEST(the_dispatcher_keeps_the_fds_the_table_names) {
        int fds[2];
        control_new_fds(fds, 2);
        dispatch("{\"op\":\"fcopy\",\"id\":1}", fds, 2); /* FIRST */
        ASSERT_EQ(seen_fd, fds[0]);
        ASSERT_FALSE(control_fd_is_open(fds[1]));
        control_new_fds(fds, 2);
        dispatch("{\"op\":\"save\",\"id\":1}", fds, 2); /* ONE: two are none */
        ASSERT_EQ(seen_fd, -1);
        ASSERT_FALSE(control_fd_is_open(fds[0]) || control_fd_is_open(fds[1]));
        control_new_fds(fds, 1);
        dispatch("{\"op\":\"save\",\"id\":1}", fds, 1);
        ASSERT_EQ(seen_fd, fds[0]);
        control_new_fds(fds, 2);
        dispatch("{\"op\":\"stats\",\"id\":\"x\"}", fds, 2); /* NONE, and refused */
        ASSERT_EQ(seen_fd, -2);
        ASSERT_FALSE(control_fd_is_open(fds[0]) || control_fd_is_open(fds[1]));
        control_new_fds(fds, 1);
        dispatch("{\"op\":\"disk-push\",\"id\":1}", fds, 1); /* ALL, no handler: closed */
        ASSERT_FALSE(control_fd_is_open(fds[0]));
        control_new_fds(fds, 1);
        dispatch("{\"op\":\"config\",\"id\":1}", fds, 1);
        ASSERT_FALSE(control_fd_is_open(fds[0]));
}

TEST_MAIN();
