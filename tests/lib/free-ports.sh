# SPDX-License-Identifier: MIT
# free_ports N (sourced by the integration tests' libraries): N free
# loopback TCP ports, random ones below the kernel's ephemeral range: a
# port the kernel handed out (bind to 0) could be given to another test's
# outgoing connection before our server binds it ("Address already in
# use", seen in CI).
free_ports() {
  python3 -c 'import random,socket,sys
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
first, end = (10000, lo) if lo > 12000 else (hi + 1, 65536)
got = []
while len(got) < int(sys.argv[1]):
    p = random.randrange(first, end)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    if p not in got:
        got.append(p)
print(*got)' "$1"
}
