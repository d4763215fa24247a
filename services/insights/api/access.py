"""Who may read releases: analysts with the read-only token (as a bearer token, or through the
dashboard's sign-in, which turns it into a session cookie), or anyone when the operator has
declared releases public.

The session cookie is ``<expiry>.<mac>``, HMAC-SHA256 under a key derived from the analyst token:
rotating the token ends every session. It is HttpOnly and SameSite=Strict (and Secure when the
page was served over HTTPS), so no script can read it and no other site can send it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from shared.clock import Clock

SESSION_COOKIE = "insights_session"
SESSION_LENGTH = timedelta(hours=12)
bearer = HTTPBearer(auto_error=False)  # a dependency: the bearer token, if any


class Sessions:
    """Issues and checks dashboard session cookies for one analyst token."""

    def __init__(self, analyst_token: SecretStr, clock: Clock) -> None:
        self._token = analyst_token.get_secret_value().encode()
        self._key = hmac.new(self._token, b"dashboard-session", hashlib.sha256).digest()
        self._clock = clock

    def token_matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode(), self._token)

    def _mac(self, expiry: str) -> str:
        return hmac.new(self._key, expiry.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        expiry = str(int((self._clock.now() + SESSION_LENGTH).timestamp()))
        return f"{expiry}.{self._mac(expiry)}"

    def valid(self, cookie: str | None) -> bool:
        if not cookie or cookie.count(".") != 1:
            return False
        expiry, mac = cookie.split(".")
        if not expiry.isdigit() or not hmac.compare_digest(mac, self._mac(expiry)):
            return False
        return self._clock.now() < datetime.fromtimestamp(int(expiry), self._clock.now().tzinfo)


def may_read(
    sessions: Sessions,
    public: bool,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
) -> bool:
    """Whether a request may read releases: public releases, the analyst token as a bearer
    token, or (with no bearer token at all) a valid session cookie. The API and the dashboard
    both ask here."""
    if public:
        return True
    if credentials is not None:
        return sessions.token_matches(credentials.credentials)
    return sessions.valid(request.cookies.get(SESSION_COOKIE))


def analyst_access(sessions: Sessions, public: bool) -> Callable[..., None]:
    """A dependency: the analyst token as a bearer token, or a valid session cookie."""

    def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        if may_read(sessions, public, request, credentials):
            return
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="the analyst token is required (as a bearer token, or sign in)",
            headers={"WWW-Authenticate": 'Bearer realm="analyst"'},
        )

    return check
