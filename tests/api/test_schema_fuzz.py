"""Schemathesis against /api/v1/openapi.json: generated requests, valid and not (every
generation mode), to every endpoint, as a signed-in program, with every built-in check: no
answer may be a 5xx, its status, content type and body must be ones the schema lists for
that endpoint, and invalid data must be refused. A few examples each, so it stays quick
(FUZZ_EXAMPLES=200 for a longer run). The requests a generator finds rarely (`test_schema_
mismatches`) are sent there as explicit cases, checked the same way."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
# Valid and invalid requests alike (types, missing fields, extra keys, repeated parameters).
schema.config.generation.update(modes=list(schemathesis.GenerationMode))
# Invalid data long enough is refused for its length first: the 414 every endpoint lists.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "414"]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 8)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, program_headers):
    # Every built-in check: no 5xx, a listed status, its documented content type and body,
    # invalid data refused with a 4xx, and so on. But the content of an upload's file (a
    # spreadsheet) and its `mapping` text (a JSON object) are not what JSON Schema can say:
    # schema-valid random bytes are refused with the 400 the endpoint lists. Nor is whether
    # a webhook URL's host resolves to a public address.
    refused_by_content = ("POST /api/v1/uploads", "POST /api/v1/webhooks")
    excluded = [positive_data_acceptance] if case.operation.label in refused_by_content else []
    case.call_and_validate(headers=program_headers, excluded_checks=excluded)
