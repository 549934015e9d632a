#!/bin/sh
# SPDX-License-Identifier: MIT
# busybox udhcpc hook: configure the leased address (nothing else needed).
case "$1" in
bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;;
esac
