// SPDX-License-Identifier: MIT
/* vmctl disk create|info|check|convert: disk images made and inspected as
 * the calling user, on files, without vmms (docs/vhdx.md "Tools"). Raw
 * images and VHDX (fixed, dynamic, differencing). Every file this makes is
 * new (O_EXCL) and 0600: a disk holds a guest's data. attach, detach and
 * resize change a VM's disks through vmms (cmd-hotplug.c). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/guid.h"
#include "vmctl/vmctl.h"
#include "vmctl/config-build.h"

enum { OPT_FORMAT = 0x100, OPT_TYPE, OPT_PARENT, OPT_BLOCK_SIZE, OPT_SECTOR_SIZE, OPT_PHYSICAL_SECTOR_SIZE };

static void help(void) {
        printf("Usage: vmctl disk create PATH SIZE [--format=raw|vhdx] [--type=dynamic|fixed]\n"
               "                         [--block-size=SIZE] [--sector-size=512|4096] [--physical-sector-size=N]\n"
               "       vmctl disk create PATH --parent=PARENT\n"
               "       vmctl disk info PATH [--format=raw|vhdx]\n"
               "       vmctl disk check PATH [--format=raw|vhdx]\n"
               "       vmctl disk convert SRC DST [--format=F] [--output-format=raw|vhdx] [--type=dynamic|fixed]\n"
               "                          [--block-size=SIZE]\n"
               "       vmctl disk attach VM PATH[,ro][,bus=scsi|ide][,controller=N][,lun=N][,sector-size=N]\n"
               "                            [,format=raw|vhdx]\n"
               "       vmctl disk detach VM INDEX\n"
               "       vmctl disk resize VM INDEX SIZE\n"
               "       vmctl disk qos VM INDEX [--max-iops=N] [--min-iops=N] [--max-bytes-per-s=N]\n"
               "Disk images as files, made and read as you, without vmms. A path's format is\n"
               "--format, else its extension (.vhdx and .avhdx are VHDX), never its content.\n\n"
               "  create    a new image of SIZE (512, 512M, 10G, 1T; MiB by default): sparse\n"
               "            (dynamic) or allocated now (fixed); with --parent a VHDX\n"
               "            differencing image that reads what it has not written from\n"
               "            PARENT (a VHDX), as a checkpoint's disk does\n"
               "  info      what an image is: size, type, blocks, its parent and whether the\n"
               "            chain below it is intact, whether its log awaits a replay\n"
               "  check     the BAT against the file (overlaps, blocks past the end, space\n"
               "            past the last block: never committed, or empty) and the chain;\n"
               "            exit 1 if it is damaged\n"
               "  convert   a new image DST with SRC's content (a differencing image reads\n"
               "            through its chain); blocks of zeros are left unallocated\n"
               "VHDX block sizes: 1M..256M (default 32M; 2M for differencing images).\n\n"
               "A VM's disks, through vmms, while it runs (its guest sees the SCSI LUN come, go or\n"
               "grow) or while it is off (its configuration):\n"
               "  attach    adds PATH, written as --disk= of vmctl create (a LUN left out is the\n"
               "            next free one on its controller); a running VM takes SCSI disks only\n"
               "  detach    removes disks[INDEX] (vmctl show lists them); the later disks move\n"
               "            down one index, and the image is free for others once it returns\n"
               "  resize    grows disks[INDEX], a raw image, to SIZE (512M, 10G, 1T; MiB by\n"
               "            default): vmms grows the file as you; a block device must have\n"
               "            SIZE already. Disks do not shrink; VHDX images do not grow yet\n"
               "  qos       disks[INDEX]'s Storage QoS: a maximum and a minimum of IOPS counted\n"
               "            in 8 KiB units (16 KiB is 2) and a maximum of bytes a second; a\n"
               "            setting left out keeps its value, 0 is none; at once on a running\n"
               "            or paused VM, in the configuration of any other. Without settings:\n"
               "            prints them. The minimum is reported when not met, not reserved\n"
               "--json prints an attached disk's index and entry.\n");
}

static const struct option create_opts[] = {
        { "format", required_argument, NULL, OPT_FORMAT },
        { "type", required_argument, NULL, OPT_TYPE },
        { "parent", required_argument, NULL, OPT_PARENT },
        { "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
        { "sector-size", required_argument, NULL, OPT_SECTOR_SIZE },
        { "physical-sector-size", required_argument, NULL, OPT_PHYSICAL_SECTOR_SIZE },
        {},
};

static int fail_usage(const char *what, const char *arg) {
        fprintf(stderr, "vmctl disk: %s '%s' (see vmctl disk --help)\n", what, arg);
        return VMCTL_EXIT_USAGE;
}

int vmctl_disk_parse_type(const char *s, enum vhdx_type *t) {
        if (!strcmp(s, "dynamic") || !strcmp(s, "fixed")) {
                *t = s[0] == 'd' ? VHDX_DYNAMIC : VHDX_FIXED;
                return 0;
        }
        return fail_usage("--type must be dynamic or fixed, not", s);
}

int vmctl_disk_parse_block_size(const char *s, uint32_t *bytes) {
        uint32_t mib;
        if (vmctl_size_parse_mib(s, &mib) < 0 || mib < 1 || mib > 256 || (mib & (mib - 1)))
                return fail_usage("--block-size must be a power of two from 1M to 256M, not", s);
        *bytes = mib << 20;
        return 0;
}

static int parse_sector(const char *s, uint32_t *out) {
        if (strcmp(s, "512") && strcmp(s, "4096"))
                return fail_usage("a sector size is 512 or 4096, not", s);
        *out = (uint32_t)atoi(s);
        return 0;
}

/* A new file for an image: O_EXCL, 0600. */
int vmctl_disk_new_file(const char *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                fprintf(stderr, "vmctl disk: %s: %s\n", path, errno == EEXIST ? "exists already (never overwritten)"
                                                                                  : strerror(errno));
        return fd;
}

/* The locators of a child at child for the parent at parent: relative when
 * the parent is in the child's directory or below it (vmms refuses a
 * locator through ".."), and always absolute, both canonical. */
static int locators(const char *child, const char *parent, char *rel, char *abs) {
        char dir[PATH_MAX], tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", child);
        char *slash = strrchr(tmp, '/');
        if (slash)
                *(slash == tmp ? slash + 1 : slash) = 0;
        if (!realpath(slash ? tmp : ".", dir) || !realpath(parent, abs))
                return -errno;
        size_t n = strlen(dir);
        rel[0] = 0;
        if (!strncmp(abs, dir, n) && (abs[n] == '/' || n == 1))
                snprintf(rel, PATH_MAX, "%s", abs + n + (n > 1));
        return 0;
}

static int create_differencing(int fd, const char *path, const char *parent_path) {
        char err[512], rel[PATH_MAX], abs[PATH_MAX];
        int pfd = open(parent_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (pfd < 0)
                return fprintf(stderr, "vmctl disk: parent %s: %s\n", parent_path, strerror(errno)), -errno;
        struct vhdx *p = NULL;
        int r = vhdx_open(pfd, 0, &p, err, sizeof err);
        if (r < 0)
                fprintf(stderr, "vmctl disk: parent %s: %s\n", parent_path, err);
        else if ((r = locators(path, parent_path, rel, abs)) < 0)
                fprintf(stderr, "vmctl disk: %s: %s\n", parent_path, strerror(-r));
        if (r >= 0) {
                struct vhdx_create_options o = { .type = VHDX_DIFFERENCING, .parent = p,
                                                 .parent_relative = rel[0] ? rel : NULL, .parent_absolute = abs };
                if ((r = vhdx_create(fd, &o, err, sizeof err)) < 0)
                        fprintf(stderr, "vmctl disk: %s: %s\n", path, err);
        }
        (void)vhdx_close(p); /* read-only, or NULL */
        close(pfd);
        return r;
}

static int create_image(int fd, const char *path, enum vm_disk_format fmt, const struct vhdx_create_options *o) {
        char err[512];
        int r;
        if (fmt == VM_DISK_VHDX) {
                if ((r = vhdx_create(fd, o, err, sizeof err)) < 0)
                        fprintf(stderr, "vmctl disk: %s: %s\n", path, err);
                return r;
        }
        r = o->type == VHDX_FIXED ? -posix_fallocate(fd, 0, (off_t)o->virtual_size)
                                  : (ftruncate(fd, (off_t)o->virtual_size) < 0 ? -errno : 0);
        if (r < 0)
                fprintf(stderr, "vmctl disk: %s: %s\n", path, strerror(-r));
        return r;
}

static int run_create(struct vmctl *c, int argc, char **argv) {
        const char *fmt_opt = NULL, *parent = NULL;
        struct vhdx_create_options o = { .type = VHDX_DYNAMIC };
        int opt;
        while ((opt = vmctl_getopt(c, argc, argv, create_opts)) != -1) {
                int k = 0;
                switch (opt) {
                case OPT_FORMAT: fmt_opt = optarg; break;
                case OPT_TYPE: k = vmctl_disk_parse_type(optarg, &o.type); break;
                case OPT_PARENT: parent = optarg; break;
                case OPT_BLOCK_SIZE: k = vmctl_disk_parse_block_size(optarg, &o.block_size); break;
                case OPT_SECTOR_SIZE: k = parse_sector(optarg, &o.logical_sector_size); break;
                case OPT_PHYSICAL_SECTOR_SIZE: k = parse_sector(optarg, &o.physical_sector_size); break;
                default: return VMCTL_EXIT_USAGE;
                }
                if (k)
                        return k;
        }
        if (vmctl_check_args(argc, argv, parent ? 1 : 2))
                return VMCTL_EXIT_USAGE;
        const char *path = argv[optind];
        enum vm_disk_format fmt;
        if (vmctl_disk_format(path, fmt_opt, &fmt) < 0)
                return VMCTL_EXIT_USAGE;
        if (parent && fmt != VM_DISK_VHDX)
                return fail_usage("a differencing image is VHDX (name it .avhdx or .vhdx, or --format=vhdx):", path);
        uint32_t mib = 0;
        if (!parent && vmctl_size_parse_mib(argv[optind + 1], &mib) < 0)
                return fail_usage("SIZE must be a size such as 512M, 10G or 1T, not", argv[optind + 1]);
        o.virtual_size = (uint64_t)mib << 20;
        if (!parent && mib == 0)
                return fail_usage("SIZE must not be", "0");
        int fd = vmctl_disk_new_file(path);
        if (fd < 0)
                return VMCTL_EXIT_FAILURE;
        int r = parent ? create_differencing(fd, path, parent) : create_image(fd, path, fmt, &o);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno, fprintf(stderr, "vmctl disk: %s: %s\n", path, strerror(errno));
        close(fd);
        if (r < 0) {
                unlink(path); /* ours: made by this call (O_EXCL) */
                return VMCTL_EXIT_FAILURE;
        }
        if (c->quiet || c->json)
                return 0;
        if (parent)
                printf("%s: vhdx differencing image on %s created\n", path, parent);
        else
                printf("%s: %s %s image of %" PRIu32 " MiB created\n", path, vm_disk_format_to_string(fmt),
                       o.type == VHDX_FIXED ? "fixed" : "dynamic", mib);
        return 0;
}

/* ---- info and check ---- */

static json_object *info_vhdx(const char *path, int fd, struct vhdx_check_report *rep, int *chain_r) {
        char err[512];
        struct vhdx *v;
        if (vhdx_open(fd, VHDX_OPEN_INSPECT, &v, err, sizeof err) < 0) {
                fprintf(stderr, "vmctl disk: %s: %s\n", path, err);
                return NULL;
        }
        struct vhdx_info *i = malloc(sizeof *i);
        json_object *o = json_object_new_object();
        if (!i || !o) {
                free(i), vhdx_close(v), json_object_put(o);
                return NULL;
        }
        vhdx_get_info(v, i);
        (void)vhdx_check(v, rep);
        (void)vhdx_close(v);
        static const char *const types[] = { "fixed", "dynamic", "differencing" };
        char g[GUID_STRING_MAX];
        json_object_object_add(o, "type", json_object_new_string(types[i->type]));
        json_object_object_add(o, "virtual_size", json_object_new_uint64(i->virtual_size));
        json_object_object_add(o, "block_size", json_object_new_uint64(i->block_size));
        json_object_object_add(o, "logical_sector_size", json_object_new_uint64(i->logical_sector_size));
        json_object_object_add(o, "physical_sector_size", json_object_new_uint64(i->physical_sector_size));
        json_object_object_add(o, "blocks_present", json_object_new_uint64(i->blocks_present));
        json_object_object_add(o, "blocks_total", json_object_new_uint64(i->blocks_total));
        json_object_object_add(o, "disk_id", json_object_new_string(guid_to_string(&i->virtual_disk_id, g)));
        json_object_object_add(o, "clean", json_object_new_boolean(!i->log_replayed));
        json_object_object_add(o, "errors", json_object_new_uint64(rep->errors));
        json_object_object_add(o, "leaked_bytes", json_object_new_uint64(rep->leaked));
        json_object_object_add(o, "leaked_empty", json_object_new_boolean(rep->leaked_empty));
        if (i->type == VHDX_DIFFERENCING) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "relative_path", json_object_new_string(i->parent_relative));
                json_object_object_add(p, "absolute_path", json_object_new_string(i->parent_absolute));
                json_object_object_add(p, "linkage", json_object_new_string(guid_to_string(&i->parent_linkage, g)));
                json_object_object_add(o, "parent", p);
        }
        /* The chain as a VM's Start would take it (a log to replay is refused there). */
        struct vmctl_disk_image im;
        *chain_r = i->log_replayed ? 0 : vmctl_disk_open(&im, path, VM_DISK_VHDX, err, sizeof err);
        if (*chain_r < 0) {
                json_object_object_add(o, "chain_error", json_object_new_string(err));
        } else if (!i->log_replayed) {
                json_object_object_add(o, "chain_depth", json_object_new_uint64(im.n_parents));
                vmctl_disk_close(&im);
        }
        free(i);
        return o;
}

static json_object *info_of(const char *path, enum vm_disk_format fmt, struct vhdx_check_report *rep, int *chain_r) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "vmctl disk: %s: %s\n", path, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        *rep = (struct vhdx_check_report){ 0 };
        *chain_r = 0;
        json_object *o = fmt == VM_DISK_VHDX ? info_vhdx(path, fd, rep, chain_r) : json_object_new_object();
        if (o && fmt == VM_DISK_RAW)
                json_object_object_add(o, "virtual_size", json_object_new_uint64((uint64_t)st.st_size));
        if (o) {
                json_object_object_add(o, "path", json_object_new_string(path));
                json_object_object_add(o, "format", json_object_new_string(vm_disk_format_to_string(fmt)));
                json_object_object_add(o, "file_size", json_object_new_uint64((uint64_t)st.st_size));
                json_object_object_add(o, "allocated", json_object_new_uint64((uint64_t)st.st_blocks * 512));
        }
        close(fd);
        return o;
}

static uint64_t u64(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_uint64(v) : 0;
}

static const char *str(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void print_info(json_object *o) {
        printf("path:          %s\n", str(o, "path"));
        printf("format:        %s%s%s\n", str(o, "format"), str(o, "type") ? ", " : "", str(o, "type") ? str(o, "type") : "");
        printf("virtual size:  %.1f MiB (%" PRIu64 " bytes)\n", (double)u64(o, "virtual_size") / 1048576.0,
               u64(o, "virtual_size"));
        printf("file size:     %.1f MiB (allocated %.1f MiB)\n", (double)u64(o, "file_size") / 1048576.0,
               (double)u64(o, "allocated") / 1048576.0);
        if (!str(o, "type"))
                return;
        printf("block size:    %" PRIu64 " MiB\n", u64(o, "block_size") >> 20);
        printf("sector size:   %" PRIu64 " logical, %" PRIu64 " physical\n", u64(o, "logical_sector_size"),
               u64(o, "physical_sector_size"));
        printf("blocks:        %" PRIu64 " of %" PRIu64 " present\n", u64(o, "blocks_present"), u64(o, "blocks_total"));
        printf("disk id:       %s\n", str(o, "disk_id"));
        json_object *p;
        if (json_object_object_get_ex(o, "parent", &p))
                printf("parent:        %s%s%s (linkage %s)\n", str(p, "relative_path"),
                       str(p, "relative_path")[0] ? ", " : "", str(p, "absolute_path"), str(p, "linkage"));
        if (str(o, "chain_error"))
                printf("chain:         broken: %s\n", str(o, "chain_error"));
        else if (u64(o, "chain_depth"))
                printf("chain:         %" PRIu64 " parent(s), intact\n", u64(o, "chain_depth"));
        printf("log:           %s\n", json_object_get_boolean(json_object_object_get(o, "clean"))
                                              ? "clean"
                                              : "not closed cleanly: the next writable open replays it");
}

static const struct option fmt_opts[] = { { "format", required_argument, NULL, OPT_FORMAT }, {} };

/* info and check: PATH [--format=]. */
static int inspect(struct vmctl *c, int argc, char **argv, bool check) {
        const char *fmt_opt = NULL;
        int opt;
        while ((opt = vmctl_getopt(c, argc, argv, fmt_opts)) != -1)
                if (opt == OPT_FORMAT)
                        fmt_opt = optarg;
                else
                        return VMCTL_EXIT_USAGE;
        if (vmctl_check_args(argc, argv, 1))
                return VMCTL_EXIT_USAGE;
        const char *path = argv[optind];
        enum vm_disk_format fmt;
        if (vmctl_disk_format(path, fmt_opt, &fmt) < 0)
                return VMCTL_EXIT_USAGE;
        struct vhdx_check_report rep;
        int chain_r;
        json_object *o = info_of(path, fmt, &rep, &chain_r);
        if (!o)
                return VMCTL_EXIT_FAILURE;
        bool damaged = rep.errors || chain_r < 0;
        if (c->json)
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        else if (!check)
                print_info(o);
        else if (!c->quiet) {
                if (rep.errors)
                        printf("%s: %" PRIu64 " error(s); the first: %s\n", path, rep.errors, rep.first_error);
                if (chain_r < 0)
                        printf("%s: chain broken: %s\n", path, str(o, "chain_error"));
                if (rep.leaked && rep.leaked_empty) /* e.g. any dynamic image qemu-img just made */
                        printf("%s: %.1f MiB of empty space past the last block (reserved when the image was "
                               "made or grown and never written; harmless, the next allocation uses it)\n", path,
                               (double)rep.leaked / 1048576.0);
                else if (rep.leaked)
                        printf("%s: %.1f MiB past the last block were never committed (a crash between an "
                               "allocation and a flush; harmless)\n", path, (double)rep.leaked / 1048576.0);
                if (!damaged)
                        printf("%s: no errors%s\n", path, fmt == VM_DISK_RAW ? " (raw: nothing to check)" : "");
        }
        json_object_put(o);
        return check && damaged ? VMCTL_EXIT_FAILURE : 0;
}

static int run_disk(struct vmctl *c, int argc, char **argv) {
        if (argc < 2)
                return help(), VMCTL_EXIT_USAGE;
        const char *sub = argv[1];
        argc--, argv++; /* the subcommand is argv[0] now, as getopt wants */
        if (!strcmp(sub, "create"))
                return run_create(c, argc, argv);
        if (!strcmp(sub, "info"))
                return inspect(c, argc, argv, false);
        if (!strcmp(sub, "check"))
                return inspect(c, argc, argv, true);
        if (!strcmp(sub, "convert"))
                return vmctl_disk_convert(c, argc, argv);
        if (!strcmp(sub, "attach") || !strcmp(sub, "detach") || !strcmp(sub, "resize"))
                return vmctl_disk_vm(c, argc, argv); /* through vmms (cmd-hotplug.c) */
        if (!strcmp(sub, "qos"))
                return vmctl_disk_qos(c, argc, argv); /* through vmms (cmd-qos.c) */
        fprintf(stderr, "vmctl disk: unknown subcommand '%s' (create, info, check, convert, attach, detach, "
                        "resize, qos)\n", sub);
        return VMCTL_EXIT_USAGE;
}

const struct vmctl_command vmctl_cmd_disk = {
        .name = "disk", .args = "create|info|check|convert|attach|detach|resize|qos ...",
        .summary = "make and inspect disk images (raw, VHDX); a VM's disks",
        .run = run_disk, .help = help, .local = true,
};
