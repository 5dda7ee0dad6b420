"""Who is calling: a bearer token (programs) or the browser session (with its CSRF token)."""

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from accounts.models import User
from accounts.services import authenticate_api_token


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`, the token from the user's profile page."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return authenticate_api_token(raw=token.strip())


# The token goes first: session auth refuses a POST without a CSRF token outright, which
# would refuse a program's POST before its token was looked at.
API_AUTH = [BearerToken(), SessionAuth()]
