from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

_bearer = HTTPBearer(auto_error=False)


def require_bearer_token(expected: SecretStr, realm: str) -> Callable[..., None]:
    """A FastAPI dependency accepting exactly ``Authorization: Bearer <expected>``."""

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:  # noqa: B008
        presented = credentials.credentials if credentials else ""
        if not hmac.compare_digest(presented.encode(), expected.get_secret_value().encode()):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail=f"a valid {realm} bearer token is required",
                headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
            )

    return check
