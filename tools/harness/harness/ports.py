"""Free loopback ports, so parallel components never collide on fixed numbers."""

from __future__ import annotations

import random
import socket

LOOPBACK = "127.0.0.1"
# Below Linux's ephemeral range (ip_local_port_range, 32768-60999 by default). A port the OS
# picks from that range can be taken, between our check and the component's bind, as the
# source port of any outgoing connection on the machine; a port below it never is. Handed-out
# ports are remembered so one run never gives the same port twice.
_RANGE = (12000, 32000)
_handed_out: set[int] = set()


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` now and that no outgoing connection takes."""
    for _ in range(200):
        port = random.randint(*_RANGE)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {_RANGE} on {host} after 200 tries")


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
