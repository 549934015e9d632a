#!/bin/bash
# SPDX-License-Identifier: MIT
# Linux's hv_fcopy_uio_daemon against the file-copy service without a VM
# (tests/unit/test-icvsp-fcopy-uio.c), the daemon first fetched and built
# (tests/lib/hv-fcopy-uio-daemon.sh) from the source of the kernel the
# stock-Linux file-copy test boots (Debian 13's 6.12, from
# bookworm-backports: VM_DEBIAN_SUITE, VM_DEBIAN_KERNEL_SERIES). Seconds,
# after the first fetch (the kernel package and its 150 MB source, once).
set -uo pipefail
src=${VM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export VM_BUILD_DIR=${VM_BUILD_DIR:-$src/build/debug}
export VM_DEBIAN_SUITE=${VM_DEBIAN_SUITE-bookworm-backports} VM_DEBIAN_KERNEL_SERIES=${VM_DEBIAN_KERNEL_SERIES-6.12}
kroot=$("$src/tests/lib/debian-kernel.sh") || exit $?
daemon=$("$src/tests/lib/hv-fcopy-uio-daemon.sh" "$(basename "$kroot")") || exit $?
VM_FCOPY_UIO_DAEMON=$daemon exec "$VM_BUILD_DIR/tests/test-icvsp-fcopy-uio"
