/* SPDX-License-Identifier: MIT */
/* Declarations of the tiny guests in tests/guests/ (see cmake/TinyGuest.cmake). */
#pragma once
#define TINY_GUEST(name)                        \
        extern const unsigned char tg_##name[]; \
        extern const unsigned tg_##name##_len
