/* SPDX-License-Identifier: MIT */
/* Seccomp policies for the providers the worker links (sandbox-providers.c). */
#pragma once

#include "vmwp/sandbox.h"

extern const struct sandbox_policy sandbox_storvsp_policy;
extern const struct sandbox_policy sandbox_emu_policy;
extern const struct sandbox_policy sandbox_hvsock_policy;
extern const struct sandbox_policy sandbox_dm_policy;
extern const struct sandbox_policy sandbox_video_policy;
extern const struct sandbox_policy sandbox_display_policy;
