"""Which image URLs univec fetches: http(s) only, public addresses only, few redirects.

An image URL often comes from someone else (a document, a user, a crawled page). Fetched
blindly it could reach this machine's services or a cloud metadata endpoint
(``http://169.254.169.254/``), or hop by redirect to another scheme. So every URL, the first
and each redirect target, must be ``http``/``https`` and its host must resolve to public
addresses only; the address actually connected to is checked again (a name that resolves
differently the second time gains nothing). Private, loopback and link-local addresses are
refused unless the image was made with ``allow_private_network=True``.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.parse
import urllib.request
from typing import IO, Any

from univec.errors import ImageLoadError

__all__ = ["MAX_REDIRECTS", "check_url", "is_public", "open_checked"]

#: Most redirects followed for one image.
MAX_REDIRECTS = 5
_SCHEMES = ("http", "https")


def check_url(url: str, *, allow_private_network: bool = False) -> None:
    """Raise :class:`ImageLoadError` unless ``url`` may be fetched.

    Args:
        url: The URL.
        allow_private_network: Also allow hosts on private, loopback and link-local addresses.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES:
        raise ImageLoadError(f"Refusing to fetch {url!r}: only http and https URLs are fetched.")
    host = parts.hostname
    if not host:
        raise ImageLoadError(f"Refusing to fetch {url!r}: it names no host.")
    if allow_private_network:
        return
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        addresses = {
            str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        }
    except (OSError, ValueError, UnicodeError) as exc:
        raise ImageLoadError(
            f"Cannot download image {url!r}: cannot resolve {host!r} ({exc})."
        ) from exc
    for address in sorted(addresses):
        _check_address(address, url)


def open_checked(
    url: str,
    *,
    timeout: float,
    allow_private_network: bool = False,
    http_connection: type[http.client.HTTPConnection] = http.client.HTTPConnection,
    https_connection: type[http.client.HTTPSConnection] = http.client.HTTPSConnection,
) -> http.client.HTTPResponse:
    """``urlopen(url)`` under the rules of :func:`check_url`, for ``url`` and every redirect.

    Args:
        url: The URL.
        timeout: Socket timeout of each network step.
        allow_private_network: See :func:`check_url`.
        http_connection, https_connection: Connection classes to build on (e.g. ones that
            enforce a deadline); the address check is added on top of them.

    Raises:
        ImageLoadError: The URL or a redirect target breaks a rule, or there were more than
            :data:`MAX_REDIRECTS` redirects.
        urllib.error.URLError, OSError: The download failed.
    """
    check_url(url, allow_private_network=allow_private_network)
    opener = urllib.request.build_opener(
        _CheckedRedirects(allow_private_network),
        _CheckedHTTPHandler(allow_private_network, http_connection),
        _CheckedHTTPSHandler(allow_private_network, https_connection),
    )
    request = urllib.request.Request(url, headers={"User-Agent": "univec"})
    response: http.client.HTTPResponse = opener.open(request, timeout=timeout)
    return response


def is_public(address: str) -> bool:
    """Whether ``address`` (an IPv4 or IPv6 address) is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _check_address(address: str, url: str) -> None:
    if not is_public(address):
        ip = address.split("%", 1)[0]
        raise ImageLoadError(
            f"Refusing to fetch {url!r}: its host is at {ip}, a non-public address (private, "
            "loopback, link-local or reserved). Image URLs must be public; for a trusted address "
            "on your own "
            "network make the image with univec.Image(url, allow_private_network=True)."
        )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def __init__(self, allow_private_network: bool) -> None:
        self.allow_private_network = allow_private_network

    def http_error_302(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any
    ) -> Any:
        location = headers.get("location") or headers.get("uri")
        try:
            if location and len(getattr(req, "redirect_dict", {})) >= MAX_REDIRECTS:
                raise ImageLoadError(
                    f"Refusing to fetch {req.full_url!r}: more than {MAX_REDIRECTS} redirects."
                )
            if location:
                target = urllib.parse.urljoin(req.full_url, location)
                check_url(target, allow_private_network=self.allow_private_network)
        except ImageLoadError:
            fp.close()
            raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _checked_connection(base: type[http.client.HTTPConnection], url: str, allowed: bool) -> Any:
    """``base`` that checks the address it connected to (when not going through a proxy)."""

    class CheckedConnection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            if not allowed and not getattr(self, "_tunnel_host", None):
                try:
                    _check_address(self.sock.getpeername()[0], url)
                except ImageLoadError:
                    self.close()
                    raise

    return CheckedConnection


def _direct(req: urllib.request.Request) -> bool:
    """Whether ``req`` goes straight to its host (a proxy's address is not the image's)."""
    return not req.has_proxy() and not getattr(req, "_tunnel_host", None)


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private_network: bool, base: type[http.client.HTTPConnection]) -> None:
        super().__init__()
        self.allow_private_network = allow_private_network
        self.base = base

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        allowed = self.allow_private_network or not _direct(req)
        return self.do_open(_checked_connection(self.base, req.full_url, allowed), req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(
        self, allow_private_network: bool, base: type[http.client.HTTPSConnection]
    ) -> None:
        super().__init__()
        self.allow_private_network = allow_private_network
        self.base = base

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        allowed = self.allow_private_network or not _direct(req)
        connection = _checked_connection(self.base, req.full_url, allowed)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]
