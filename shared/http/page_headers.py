"""Security headers for a server-rendered HTML page that runs no script.

Each page family (the notifier's member pages, the insights dashboard) ships one stylesheet
inline; the Content-Security-Policy allows exactly that stylesheet (by its hash) and nothing
else: no script, no image or font from anywhere, forms posting only to the page's own origin,
no framing, no ``<base>``. The page is not cached and sends no referrer.
"""

from __future__ import annotations

import base64
import hashlib


def page_security_headers(style: str) -> dict[str, str]:
    """The headers for a page whose only style is the ``<style>`` element holding ``style``."""
    style_hash = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{style_hash}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
