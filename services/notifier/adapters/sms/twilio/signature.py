"""X-Twilio-Signature: proof that a webhook (status callback, inbound SMS) came from Twilio.

Validation agrees with Twilio's own SDK (``twilio.request_validator.RequestValidator``; the
tests compare against it). Twilio signs the full URL it called (query string included, as
sent), followed by every distinct POST parameter as name then value: names sorted, and a name
that repeats contributes each of its *distinct* values, sorted (an identical name=value pair
sent twice counts once). HMAC-SHA1 under the account's auth token, base64.

A JSON body is signed differently: the URL carries ``bodySHA256`` (hex SHA-256 of the body),
the signature covers the URL alone, and the body must hash to that value.

Twilio is inconsistent about writing the default port into the URL it signs, so validation
accepts the URL with the port removed and with the scheme's default port added, as Twilio's own
SDK does. Behind an ingress the URL Twilio called is not the one this process sees:
``domain.external_url`` rebuilds it from the X-Forwarded-* headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qs, urlsplit, urlunsplit

from services.notifier.domain.external_url import DEFAULT_PORTS, without_port

# A mapping (a repeated name may map to a list of values, e.g. from ``parse_qs``), a multidict
# (whose ``items()`` yields every pair), or plain (name, value) pairs.
FormParams = Mapping[str, str] | Mapping[str, Sequence[str]] | Iterable[tuple[str, str]]
# A body that is not a form (JSON), as received: only valid with ``bodySHA256`` in the URL.
RawBody = str | bytes


def expected_signature(url: str, params: FormParams, auth_token: str) -> str:
    """The X-Twilio-Signature Twilio would send for a form POST of ``params`` to ``url``."""
    data = url + "".join(name + value for name, value in sorted(set(_pairs(params))))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def body_sha256(body: RawBody) -> str:
    """What Twilio puts in ``bodySHA256`` for a JSON body."""
    return hashlib.sha256(body.encode() if isinstance(body, str) else body).hexdigest()


def is_valid_signature(
    url: str, params: FormParams | RawBody, signature: str | None, auth_token: str
) -> bool:
    """Whether ``signature`` is Twilio's for this request, with or without the port in ``url``.

    ``params`` is the form, or for any other body the body itself: then the URL must carry
    its ``bodySHA256`` and the signature covers the URL alone. Constant-time in the signature;
    a missing or empty signature is never valid.
    """
    if not signature or not auth_token:
        return False
    body_matches = True
    if isinstance(params, str | bytes):
        declared = parse_qs(urlsplit(url).query).get("bodySHA256")
        if not declared:
            return False  # a body that is not a form is signed only through its hash
        body_matches = hmac.compare_digest(body_sha256(params).encode(), declared[0].encode())
        params = ()
    pairs = list(_pairs(params))
    given = signature.encode()
    valid = False
    for candidate in _port_variants(url):
        # No early exit: every variant is compared, so timing says nothing about which matched.
        valid |= hmac.compare_digest(
            expected_signature(candidate, pairs, auth_token).encode(), given
        )
    return valid and body_matches


def _pairs(params: FormParams) -> Iterable[tuple[str, str]]:
    items: Iterable[tuple[str, object]] = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, Iterable):
            yield from ((name, str(each)) for each in value)


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return [url]
    userinfo, at, hostport = parts.netloc.rpartition("@")
    bare = without_port(hostport)
    variants = [url, urlunsplit(parts._replace(netloc=f"{userinfo}{at}{bare}"))]
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    if port is None and default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{userinfo}{at}{bare}:{default}")))
    return list(dict.fromkeys(variants))
