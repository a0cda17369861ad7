"""Where a webhook may go: https (http to 127.0.0.1 on the local stage only), never a
private, loopback, link-local, unspecified or otherwise reserved address.

The check runs when an endpoint is saved and again at every send, after DNS resolution,
and the send connects to the address that was checked: a name that later points inside
(DNS rebinding) is refused.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ... import errors

# host, port -> the addresses the name resolves to (tests pass a stub; nothing else resolves).
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class Policy:
    """`local`: the local stage, where http to 127.0.0.1 (a receiver on this machine) is allowed."""

    local: bool


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (the Host header, the TLS server name)
    port: int
    path: str  # path and query
    address: str  # the checked address to connect to


def url_refused(message: str) -> errors.DomainError:
    """A well-formed URL the rules refuse (its document schema cannot say which hosts are
    public): a 422, like other well-formed values refused by a rule."""
    return errors.unprocessable("webhook_url_refused", message)


URL_ERRORS = errors.raises(unprocessable=["webhook_url_refused"])


# What the C resolver reads as an IPv4 address (inet_aton): 2130706433, 0x7f.1, 017700000001, 127.1.
_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+")


def _literal(host: str) -> str | None:
    """The address a host names without DNS, in any spelling a resolver accepts, else None."""
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(bare) and any(c.isdigit() for c in bare):
        try:
            return socket.inet_ntoa(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def _tunnelled(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries to (6to4 `2002:0a00:0001::` is 10.0.0.1
    through a 6to4 relay; Teredo's server and client)."""
    return [v4 for v4 in (ip.sixtofour, *(ip.teredo or ())) if v4 is not None]


def _blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address) and any(_blocked(v4) for v4 in _tunnelled(ip)):
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:  # fec0::/10: private, not in is_private
        return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or not ip.is_global
    )


def split(url: str, policy: Policy) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an acceptable URL (before resolution)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise url_refused("not a URL") from exc
    host = (parts.hostname or "").lower()
    if not host.isascii():  # as the resolver reads it: full-width forms folded, 。 a dot
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise url_refused("not a host name") from exc
    if host.endswith(".") and not host.startswith("["):
        host = host.rstrip(".")  # "localhost." is localhost: one spelling per host
    if parts.scheme not in ("https", "http") or not host:
        raise url_refused("the URL must be https://host/...")
    if parts.username or parts.password:
        raise url_refused("the URL must not carry credentials")
    if parts.scheme == "http" and not (policy.local and host == "127.0.0.1"):
        raise url_refused("the URL must be https (http only to 127.0.0.1 on the local stage)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def allowed_address(address: str, policy: Policy) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if policy.local and str(ip) == "127.0.0.1":
        return True
    return not _blocked(ip)


def check_literal(url: str, policy: Policy) -> None:
    """What can be checked when an endpoint is saved: the URL's form, and its host when it
    is an address (a name is checked at every send, after resolution)."""
    _, host, _, _ = split(url, policy)
    _check_host(host, policy)


def _check_host(host: str, policy: Policy) -> str | None:
    """Refuse an inside address or a local-only name; the address a literal host names."""
    literal = _literal(host)
    if literal is None:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise url_refused("the host must be public")
    elif not allowed_address(literal, policy):
        raise url_refused("the host must be a public address")
    return literal


def resolve(url: str, policy: Policy, resolver: Resolver) -> Target:
    """The address to send to: every address the name resolves to must be allowed."""
    scheme, host, port, path = split(url, policy)
    literal = _check_host(host, policy)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolver(host, port)
        except OSError as exc:
            raise url_refused("the host does not resolve") from exc
    if not addresses:
        raise url_refused("the host does not resolve")
    if not all(allowed_address(a, policy) for a in addresses):
        raise url_refused("the host resolves to an address that is not public")
    return Target(scheme, host, port, path, addresses[0])
