# The network namespace's interfaces (/proc/net/dev), whether each is up (SIOCGIFFLAGS on a
# unix socket: the ioctl answers for the caller's namespace), its IPv6 addresses and IPv4
# routes. Jailed: only lo, down, no addresses, no routes.
import fcntl
import os
import socket
import struct

SIOCGIFFLAGS = 0x8913
IFF_UP = 0x1


def main():
    with open("/proc/net/dev") as dev:
        names = [line.split(":")[0].strip() for line in dev.readlines()[2:]]
    up = {}
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        for name in names:
            request = struct.pack("16sH14x", name.encode(), 0)
            try:
                reply = fcntl.ioctl(probe.fileno(), SIOCGIFFLAGS, request)
            except OSError as error:  # refused (a filter): tells nothing either way
                up[name] = "ioctl failed: %d" % error.errno
                continue
            up[name] = bool(struct.unpack("16sH14x", reply)[1] & IFF_UP)
    addresses = 0
    if os.path.exists("/proc/net/if_inet6"):  # absent when the kernel has no IPv6
        with open("/proc/net/if_inet6") as inet6:
            addresses = len(inet6.readlines())
    with open("/proc/net/route") as route:
        routes = len(route.readlines()[1:])
    return {"interfaces": names, "up": up, "ipv6_addresses": addresses, "ipv4_routes": routes}
