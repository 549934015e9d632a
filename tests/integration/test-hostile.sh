#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile guests on a sandboxed vmwp (docs/hostile-guests.md): the test
# guest in vsc.mode=hostile sends malformed VMBus messages and GPADLs,
# corrupts ring indices and descriptors, floods the host, and sends SCSI and
# RNDIS garbage; for every case it checks the answer the host owes (a
# failure status, or nothing), and after every sub-mode that all devices
# still work. Here the host checks that the worker served it all to the
# end (the guest's own power-off, status 0), that no case went wrong, that
# no sanitizer spoke (the asan preset runs this too), and, around the
# flood, that the worker's fds and threads came back (up to the eventfds
# of channels left open, HOSTILE_FD_SLACK) and its anonymous
# memory stayed within HOSTILE_RSS_BOUND_KB. The NIC parts run in a network
# namespace of their own: a TAP, and for vsc.hostile=link the TAP deleted
# under the running VM.
set -uo pipefail
. "$(dirname "$0")/hostile-lib.sh"
hostile_require
command -v ip >/dev/null || { echo "SKIP: iproute2 (ip) not installed"; exit 77; }
if [ -z "${HOSTILE_IN_NETNS:-}" ]; then
        unshare -n true 2>/dev/null || { echo "SKIP: cannot create a network namespace (needs root)"; exit 77; }
        exec unshare -n env HOSTILE_IN_NETNS=1 bash "$0" "$@"
fi
ip link set lo up

truncate -s 64M "$tmp/d0.img" "$tmp/d1.img"
DISKS=",\"disks\": [ { \"path\": \"$tmp/d0.img\" }, { \"path\": \"$tmp/d1.img\", \"controller\": 1 } ]"
NIC=',"nics": [ { "mac": "02:00:5e:10:00:0a", "tap": "hostap0" } ]'
ip tuntap add dev hostap0 mode tap vnet_hdr
ip link set hostap0 up

# run NAME CMDLINE EXTRA_JSON: to the end, nothing measured.
run() {
        hostile_start "$@"
        hostile_end "$1"
}

run bus "vsc.mode=hostile vsc.hostile=msg,gpadl" "$DISKS$NIC"
check_sub bus msg 90
check_sub bus gpadl 100
check bus '^VSC hostile_case=msg/contact_conn_7 ok=1 .*hv_status=0x12 reply=none$' \
        '^VSC hostile_case=msg/hv_payload_241 ok=1 .*hv_status=0x5 reply=none$' \
        '^VSC hostile_case=msg/type_8_oversized_240 ok=1 .*reply=GPADL_CREATED$' \
        '^VSC hostile_case=msg/open_twice_still_served ok=1 negotiation=received$' \
        '^VSC hostile_case=gpadl/pfn_mmio_hole ok=1 .*reply=GPADL_CREATED:refused$' \
        '^VSC hostile_case=gpadl/pending_limit_16 ok=1 refused_at=17$' \
        '^VSC hostile_case=gpadl/total_pages_limit_32768 ok=1 refused_at=5 ' \
        '^VSC hostile_case=gpadl/ring_write_index_out_of_range ok=1 .*reply=refused$' \
        '^VSC hostile_case=gpadl/close_answers_the_teardown ok=1 .*reply=GPADL_TORNDOWN$'

run ring "vsc.mode=hostile vsc.hostile=ring" "$DISKS$NIC"
check_sub ring ring 13
for c in write_index_out_of_range write_index_unaligned len8_past_published len8_past_ring offset8_gt_len8 \
        len8_below_descriptor read_index_out_of_range; do
        check ring "^VSC hostile_case=ring/$c ok=1 served_after=no close=ok .*recovered=1 inquiry=ok$"
done
# while controller 0 was broken, controller 1, the NIC and the heartbeat served
[ "$(grep -c '^VSC hostile_alive=ring scsi=1 nic=ok heartbeat=ok$' "$tmp/ring.out")" -eq 7 ] ||
        bad "[ring] not every broken channel was followed by a survivor check of the rest"
check ring '^VSC hostile_case=ring/oversized_packet ok=1 answered=0 inquiry=ok$'

hostile_start flood "vsc.mode=hostile vsc.hostile=flood vsc.hostile.pause_ms=1000" "$DISKS$NIC"
watch_phases "$(worker_of "$wpid")" "$tmp/flood.out" "$tmp/flood.mem"
hostile_end flood
check_sub flood flood 5
check flood '^VSC hostile_case=flood/post_storm ok=1 posts=20000 refused=0 replies=0 ' \
        '^VSC hostile_case=flood/reply_storm ok=1 requests=4000 accepted=[0-9]+ refused_busy=[1-9][0-9]* other=0 answered=[0-9]+ in_order=1$' \
        '^VSC hostile_case=flood/doorbell_storm ok=1 registered=200000 ' \
        '^VSC hostile_case=flood/openclose_storm ok=1 cycles=30 opens=120 ' \
        '^VSC hostile_case=flood/gpadl_storm ok=1 gpadls=300 '
check_bounded flood "$tmp/flood.mem" flood_start flood_end

run scsi "vsc.mode=hostile vsc.hostile=scsi" "$DISKS$NIC"
check_sub scsi scsi 29
check scsi '^VSC hostile_case=scsi/random_cdbs ok=1 sent=20000 completed=20000 ' \
        '^VSC hostile_case=scsi/read_into_pfn_past_ram ok=1 reply=refused srb_status=0x6 ' \
        '^VSC hostile_case=scsi/write_from_mmio_hole ok=1 reply=refused srb_status=0x6 ' \
        '^VSC hostile_case=scsi/vstor_packet_8_bytes ok=1 reply=refused srb_status=0x6 ' \
        '^VSC hostile_case=scsi/io_after_garbage ok=1 .*compared=1$'

run rndis "vsc.mode=hostile vsc.hostile=rndis" "$DISKS$NIC"
check_sub rndis rndis 28
check rndis '^VSC hostile_case=rndis/msg_len_past_data ok=1 .*nvsp_status=5 ' \
        '^VSC hostile_case=rndis/query_unknown_oid ok=1 .*rndis_status=0xc00000bb ' \
        '^VSC hostile_case=rndis/section_index_past_end ok=1 completion=yes type=108 status=5$' \
        '^VSC hostile_case=rndis/frame_and_query_after_garbage ok=1 frame_completed=1 media_state=0 link=up ' \
        '^VSC hostile_case=rndis/rndis_random ok=1 sent=200 completed=200$'

# The TAP goes away under the running VM (ip link del): link down for the
# guest, frames still completed, the NIC closes and opens again.
hostile_start link "vsc.mode=hostile vsc.hostile=link vsc.hostile.pause_ms=200" "$DISKS$NIC"
for _ in $(seq 600); do grep -q '^VSC hostile_phase=link_wait$' "$tmp/link.out" && break; sleep 0.1; done
ip link del hostap0 || bad "[link] could not delete the TAP"
hostile_end link
check_sub link link 4
check link '^VSC hostile_case=link/link_down_indicated ok=1 ' \
        '^VSC hostile_case=link/frame_completed_without_tap ok=1 frame_completed=1 media_state=1 link=down ' \
        '^VSC hostile_case=link/media_state_disconnected ok=1 media_state=1$'
finish
