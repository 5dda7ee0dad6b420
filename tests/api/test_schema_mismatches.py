"""Requests schemathesis found answered otherwise than the OpenAPI document says, sent as
explicit cases and checked by its conformance checks: the status is one the endpoint
lists, with its content type and body (`{"detail", "code"}` for an error)."""

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.errors import MAX_URL_CHARS
from bulk.models import StagedUpload
from config.wsgi import application
from tests.bulk.conftest import GOOD_ROW, HEADER, csv_bytes

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]


def call(headers, path: str, method: str, **data):
    case = schema[f"/api/v1{path}"][method].Case(**data)
    response = case.call(headers=headers)
    case.validate_response(response, checks=CONFORMANCE)
    return response


def upload(headers, **fields):
    body = {"file": csv_bytes([HEADER, GOOD_ROW])} | fields
    return call(headers, "/uploads", "POST", body=body, media_type="multipart/form-data")


def test_an_empty_reuse_days_in_the_form_is_the_portals_setting(program_headers, settings):
    settings.QUOTE_REUSE_DAYS = 21
    response = upload(program_headers, reuse_days="")
    assert response.status_code == 201
    assert response.json()["reuse_days"] == 21


def test_the_schema_offers_no_null_reuse_days_in_the_form():
    # A multipart form sends text: "null" is not a way to leave the field out.
    body = schema["/api/v1/uploads"]["POST"].definition.raw["requestBody"]
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["reuse_days"]["type"] == "integer"
    assert "anyOf" not in form["properties"]["reuse_days"]


def test_a_reuse_days_of_null_text_answers_400_naming_it(program_headers):
    response = upload(program_headers, reuse_days="null")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("reuse_days:")


def test_the_schema_lists_the_mapping_fields_and_no_others():
    mapping = schema.raw_schema["components"]["schemas"]["Columns"]["properties"]["mapping"]
    assert set(mapping["properties"]) == {
        *("street", "unit", "city", "state", "zip", "address"),
        # A row's own speed and term (issue 21).
        *("speed", "term"),
    }
    assert mapping["additionalProperties"] is False


def test_an_unknown_mapping_key_answers_400_naming_it(program_headers):
    staged_id = upload(program_headers).json()["id"]
    mapping = {"street": "A", "city": "B", "state": "C", "county": "D"}
    response = call(
        program_headers,
        "/uploads/{upload_id}/columns",
        "POST",
        path_parameters={"upload_id": staged_id},
        body={"mapping": mapping},
        media_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_mapping"
    assert "county" in response.json()["detail"]
    assert StagedUpload.objects.get(pk=staged_id).status == StagedUpload.Status.READY


@pytest.mark.parametrize("name", ["page", "page_size", "status"])
def test_a_repeated_paging_parameter_answers_400_naming_it(program_headers, name):
    values = {"page": [1, 2], "page_size": [5, 10], "status": ["pending", "failed"]}[name]
    response = call(program_headers, "/jobs", "GET", query={name: values})
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"{name}: given more than once; give it once",
        "code": "invalid",
    }


def test_a_repeated_results_parameter_answers_400(program_headers):
    response = call(
        program_headers,
        "/jobs/{job_id}/results",
        "GET",
        path_parameters={"job_id": 1},
        query={"page": [1, 2]},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("path", "method", "parameters"),
    [
        ("/jobs", "GET", {"query": {"status": "x" * MAX_URL_CHARS}}),
        ("/jobs/{job_id}", "GET", {"path_parameters": {"job_id": "9" * MAX_URL_CHARS}}),
        (
            "/jobs/{job_id}/results.csv",
            "GET",
            {"path_parameters": {"job_id": 1}, "query": {"rows": "f" * MAX_URL_CHARS}},
        ),
    ],
)
def test_an_over_long_url_answers_414(program_headers, path, method, parameters):
    response = call(program_headers, path, method, **parameters)
    assert response.status_code == 414
    assert response.json()["code"] == "url_too_long"


def test_every_endpoint_lists_414():
    for path, methods in schema.raw_schema["paths"].items():
        for method, operation in methods.items():
            assert "414" in operation["responses"], f"{method} {path}"


def test_a_repeated_form_field_answers_400_naming_it(program_headers):
    response = upload(program_headers, speed_mbps=[500, 1000])
    assert response.status_code == 400
    assert response.json()["detail"] == "speed_mbps: given more than once; give it once"
