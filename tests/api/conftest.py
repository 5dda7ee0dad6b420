import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from accounts.services import regenerate_api_token
from tests.factories import UserFactory
from tests.harness import create_job

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


@pytest.fixture
def in_process_requests():
    """Keep the test's database connection open across requests to the WSGI app, as
    Django's test client does (a request's end would otherwise close it)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def program_headers(db, in_process_requests) -> dict[str, str]:
    user = UserFactory()
    # Something to find: jobs 1.. exist for some generated ids.
    for _ in range(2):
        create_job(user=user, rows=2)
    return {"Authorization": f"Bearer {regenerate_api_token(user=user)}"}
