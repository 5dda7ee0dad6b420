import pytest
from django.test import Client

from accounts.services import regenerate_api_token

API = "/api/v1"


@pytest.fixture
def token(user) -> str:
    return regenerate_api_token(user=user)


@pytest.fixture
def api_client(token) -> Client:
    """A program's client: no session, the user's bearer token on every request."""
    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def other_api_client(other_user) -> Client:
    return Client(headers={"Authorization": f"Bearer {regenerate_api_token(user=other_user)}"})
