"""Who sent a request, behind the shop's own proxies: the rule, free of Django.

``storefront.web.client_ip`` (every throttle and rate limit) and
``gunicorn.conf.py`` (the access log, read before Django is set up) both
ask here, so the address a limit counts is the address the log shows.
"""

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(proxies) -> tuple[Network, ...]:
    """Parse proxies given as addresses or CIDR ranges; raise ValueError on a bad one."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def client_from(remote_addr: str, forwarded_for: str, networks: tuple[Network, ...]) -> str | None:
    """Return the client's address, or None when none can be told.

    X-Forwarded-For is believed only as far as the trusted proxies wrote it:
    its hops are read from the right, and the first one not in *networks*
    is the client. A request on a unix socket (no *remote_addr*) can only
    come from a process on this machine, the proxy in front of the shop, so
    its header is read the same way.
    """

    def trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in networks)

    address = remote_addr or ""
    if not address or trusted(address):
        hops = [hop.strip() for hop in (forwarded_for or "").split(",")]
        for hop in reversed([hop for hop in hops if hop]):
            address = hop
            if not trusted(hop):
                break
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
