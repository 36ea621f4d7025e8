"""Addresses of this machine, for tests that must reach a server from off loopback."""

from __future__ import annotations

import ipaddress
import socket


def lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine, or None when it has none.

    Connecting a UDP socket sends nothing: it only asks the kernel which local address would
    route to the (unroutable, documentation-range) destination.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if ipaddress.ip_address(address).is_loopback else address
