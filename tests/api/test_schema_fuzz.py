"""Schemathesis against /api/v1/openapi.json: generated requests, valid and not, to every
endpoint, as a signed-in program. No answer may be a 5xx, and every status code must be
one the schema lists for that endpoint. A few examples each, so it stays quick."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from accounts.services import regenerate_api_token
from config.wsgi import application
from tests.factories import UserFactory
from tests.harness import create_job

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


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


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case, program_headers):
    case.call_and_validate(
        headers=program_headers, checks=[not_a_server_error, status_code_conformance]
    )
