#!/bin/bash
# SPDX-License-Identifier: MIT
# Should the live-migration stream be compressed (issue #20: "pick
# compression only where measured to help", docs/migration.md)? The stream
# already leaves out zero pages and holes; what it sends are the guest's
# touched pages. Compressing them pays off only while the compressor runs
# faster than the link: with compression the stream moves guest memory at
# min(C, L x R) (C: the compressor's input rate on one core, L: the link,
# R: the ratio), without it at L, so it helps exactly when C > L.
# Measured here, side by side in one run:
#   L: TCP through a veth pair between two network namespaces (the
#      two-host test's link), one stream, 512 MiB;
#   C and R: lz4 -1 and zstd -1 on one thread (Debian's lz4 and zstd, the
#      fastest settings QEMU's multifd offers its peers), over a sample of
#      what a guest's touched pages hold: program text and libraries
#      (/usr/lib, /usr/bin), text files (/usr/share), and 1/8 random bytes
#      (encrypted or already compressed data), 128 MiB, from tmpfs.
# RESULT rows: each compressor's input rate beside the link's own (the
# ratio is the answer: below 1, compression slows the migration down) and
# its ratio. Needs root (namespaces), python3, lz4, zstd; SKIP otherwise.
# Usage: bench/bench-migrate-compress.sh
set -uo pipefail
for t in python3 lz4 zstd ip; do
  command -v "$t" >/dev/null || { echo "SKIP: bench-migrate-compress: no $t"; exit 0; }
done
tmp=$(mktemp -d /dev/shm/bench-mc.XXXXXX)
ns=bmc$$
cleanup() { ip netns del "${ns}a" 2>/dev/null; ip netns del "${ns}b" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
ip netns add "${ns}a" 2>/dev/null && ip netns add "${ns}b" ||
  { echo "SKIP: bench-migrate-compress: cannot create network namespaces"; exit 0; }

# the sample: 64 MiB of code, 48 MiB of text, 16 MiB random
{
  find /usr/lib /usr/bin -type f \( -name '*.so*' -o -perm -u+x \) -size +64k 2>/dev/null | head -400 |
    xargs cat 2>/dev/null | head -c $((64 << 20))
  find /usr/share -type f \( -name '*.txt' -o -name '*.py' -o -name '*.html' -o -name '*.xml' -o -name 'copyright' \) \
    2>/dev/null | head -20000 | xargs cat 2>/dev/null | head -c $((48 << 20))
  head -c $((16 << 20)) /dev/urandom
} >"$tmp/sample"
size=$(stat -c %s "$tmp/sample")
[ "$size" -gt $((64 << 20)) ] || { echo "SKIP: bench-migrate-compress: too little sample data ($size bytes)"; exit 0; }

now() { date +%s.%N; }
# rate BYTES START END: MB/s
rate() { python3 -c "print('%.0f' % ($1 / 1e6 / ($3 - $2)))"; }

# the link
ip link add va type veth peer name vb
ip link set va netns "${ns}a" && ip link set vb netns "${ns}b"
ip -n "${ns}a" addr add 10.88.0.1/24 dev va && ip -n "${ns}a" link set va up
ip -n "${ns}b" addr add 10.88.0.2/24 dev vb && ip -n "${ns}b" link set vb up
ip netns exec "${ns}b" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.88.0.2", 7700)); s.listen(1); c, _ = s.accept()
while c.recv_into(bytearray(1 << 20)): pass' &
sink=$!
sleep 0.5
link=$(ip netns exec "${ns}a" python3 -c '
import socket, time
c = socket.create_connection(("10.88.0.2", 7700)); buf = bytes(range(256)) * 4096
t = time.monotonic()
for _ in range(512): c.sendall(buf)
c.shutdown(socket.SHUT_WR); c.recv(1); print("%.0f" % (512 * len(buf) / 1e6 / (time.monotonic() - t)))')
wait "$sink" 2>/dev/null

for c in "lz4 -1" "zstd -1 -T1"; do
  best=0 ratio=0
  for _ in 1 2 3; do
    s=$(now); $c -q -c "$tmp/sample" >"$tmp/out"; e=$(now)
    r=$(rate "$size" "$s" "$e")
    [ "$r" -gt "$best" ] && best=$r
    ratio=$(python3 -c "print('%.2f' % ($size / $(stat -c %s "$tmp/out")))")
  done
  printf 'RESULT\tmigration stream: %s on one thread, input rate (baseline: the veth link, one TCP stream)\t%s\t%s\tMB/s\t> 1.0x to help\thigher\n' \
    "$c" "$best" "$link"
  printf 'RESULT\tmigration stream: %s ratio on touched guest pages (sample)\t%s\t-1\tx\t-\thigher\n' "$c" "$ratio"
done
