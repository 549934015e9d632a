/* SPDX-License-Identifier: MIT */
/* vmctl's configuration building, as pure functions with a fuzz target
 * (tests/fuzz/fuzz-vmms-vmctl-build.c): `vmctl create`/`vmctl edit` flags applied
 * to a JSON configuration document, and RFC 7386 JSON merge patches
 * (`vmctl edit --patch`). The result is checked by vm_config_parse() (in
 * vmctl, for an early message, and again by vmms). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

struct vmctl_build_ctx {
        const char *cwd;         /* relative paths in flags are made absolute against this */
        uint8_t mac_random[3];   /* the low three bytes of a generated MAC address */
        bool ide_disks;          /* disk= without bus=: on the IDE bus (a firmware VM: a BIOS boots IDE) */
};

/* Applies one flag (without the leading "--") to cfg, a JSON object:
 *   name=S memory=SIZE (MiB, or with M/G suffix) vcpus=N kernel=PATH initrd=PATH
 *   cmdline=S boot=pvh|linux serial-log=PATH restart-policy=P stop-timeout=SEC
 *   checkpoint-type=production|production-only|standard|disabled
 *   cpu-limit=PCT (processor.limit_pct, 1..100) cpu-weight=N (processor.weight, 1..10000)
 *   disk=PATH[,ro][,bus=scsi|ide][,controller=N][,lun=N][,sector-size=N][,format=raw|vhdx]
 *   nic=[mac=MAC][,bridge=BR][,tap=IF][,mtu=N][,link=up|down]   (or "auto")
 *   dynamic-memory=on|off|[on,]min=SIZE,max=SIZE,buffer=PCT,weight=N (merged)
 *   display=on|off|[on,]WIDTHxHEIGHT,vnc=PORT,web=PORT (merged)
 *   firmware=PATH (boot kind firmware with this image)
 *   boot-order=dvd,disk|disk,dvd|dvd|disk (boot kind firmware)
 *   dvd=ISO (the secondary master DVD drive's disc; added if absent)
 *   remove-disk=INDEX remove-nic=INDEX
 *   force (no value: "allow_memory_over_host": true)
 * Returns 0, or -EINVAL with "--<flag>: <reason>" in err. */
int vmctl_config_set(struct json_object *cfg, const char *flag, const char *value,
                     const struct vmctl_build_ctx *ctx, char *err, size_t errlen);

/* Whether `vmctl create` makes a firmware VM: neither the base document
 * (may be NULL) nor the flags give a kernel (kernel_flag), and the boot
 * kind (boot_flag, the last --boot, else the document's) is absent or
 * "firmware". */
bool vmctl_create_boots_firmware(struct json_object *base, bool kernel_flag, const char *boot_flag);
/* Sets "boot":{"kind":"firmware"} unless the document names a kind. */
void vmctl_config_default_firmware(struct json_object *cfg);
/* Whether the document's boot kind is "firmware". */
bool vmctl_config_is_firmware(struct json_object *cfg);

/* "512", "512M", "512MiB", "2G", "2GiB", "1T", "1TiB" -> MiB. -EINVAL/-ERANGE. */
int vmctl_size_parse_mib(const char *s, uint32_t *mib);

/* RFC 7386: applies patch to *target (replacing *target when the patch is
 * not an object). Objects nest at most 32 deep. Returns 0 or -errno. */
int vmctl_merge_patch(struct json_object **target, struct json_object *patch);
