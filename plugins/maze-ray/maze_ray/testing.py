"""Running Ray on one machine without touching the network, for tests and benchmarks.

Ray binds the machine's primary network address unless it has none. :func:`isolate_network` moves
the calling process into a new network namespace in which only loopback is up (what
``unshare -n`` followed by ``ip link set lo up`` does); Ray started from there, and every process
it starts, binds 127.0.0.1 only.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def isolate_network() -> str | None:
    """Move this process into a new network namespace with only loopback, up. Returns None when
    done (or when it already is in one), else why it cannot.

    Namespaces belong to threads: call it from the main thread before starting Ray; the threads and
    processes started afterwards inherit the namespace. There is no way back for the process.
    """
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        if os.geteuid() != 0:
            return "moving into a private network namespace needs root (or run under `unshare -rn`)"
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            return f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:  # `ip link set lo up`
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))
    return None
