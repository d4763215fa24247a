"""The URL a caller outside the ingress used, rebuilt from what this process saw and the
X-Forwarded-* headers: what a provider signed when it called a webhook behind a proxy."""

from __future__ import annotations

DEFAULT_PORTS = {"http": 80, "https": 443}


def external_url(
    scheme: str,
    host: str,
    path: str,
    query: str,
    forwarded_proto: str | None = None,
    forwarded_host: str | None = None,
    forwarded_port: str | None = None,
) -> str:
    """The URL a client outside the ingress called.

    ``path`` and ``query`` must be the raw strings from the request line (providers sign them
    as sent; re-encoding would break the signature). Only the first value of a comma-separated
    header is used: it is the one the outermost proxy set. Call this only behind a proxy that
    overwrites these headers; otherwise a client chooses the URL that gets checked.
    """
    scheme = (_first(forwarded_proto) or scheme).lower()
    host = _first(forwarded_host) or host
    port = _first(forwarded_port)
    if port:
        # The port the client used replaces whatever port this process was reached on.
        host = without_port(host)
        if port != str(DEFAULT_PORTS.get(scheme)):
            host = f"{host}:{port}"
    url = f"{scheme}://{host}{path or '/'}"
    return f"{url}?{query}" if query else url


def without_port(host: str) -> str:
    """``host`` without a ``:port`` suffix ("[::1]" is a bare IPv6 literal; "[::1]:8443" and
    "example.org:8443" carry a port)."""
    if host.rsplit("]", 1)[-1].count(":") == 1:
        return host.rsplit(":", 1)[0]
    return host


def _first(header: str | None) -> str | None:
    if header is None:
        return None
    first = header.split(",", 1)[0].strip()
    return first or None
