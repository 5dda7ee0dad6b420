"""Who is calling: a bearer token (programs) or the browser session (with its CSRF token).

Missing or bad credentials answer 401 on every method. A POST with a bad token is not
handed on to the session check (whose CSRF refusal would answer 403); the CSRF check is
for a signed-in browser session only.
"""

from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth

from accounts.models import User
from accounts.services import authenticate_api_token


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`, the token from the user's profile page."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return authenticate_api_token(raw=token.strip())


class SessionAuth(NinjaSessionAuth):
    """The portal's own pages: the session cookie, and for writes the X-CSRFToken header."""

    def __call__(self, request: HttpRequest) -> User | None:
        if "HTTP_AUTHORIZATION" in request.META:
            return None  # a program's credentials, refused above: 401, not a CSRF error
        if not request.user.is_authenticated:
            return None  # no session: 401 before any CSRF check
        return super().__call__(request)


API_AUTH = [BearerToken(), SessionAuth()]
