"""One table from domain errors to HTTP answers: an exception answers the same status, code
and body on every endpoint that meets it."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bulk.models import StagedUpload
from tests.api.conftest import API
from tests.bulk.conftest import (
    GOOD_ROW,
    HEADER,
    BatchJobFactory,
    StagedUploadFactory,
    xlsx_bytes,
)
from tests.harness import create_job

pytestmark = pytest.mark.django_db

COLUMNS = {"mapping": {"street": "Street Address", "city": "City", "state": "State"}}


def post_columns(client, staged: StagedUpload, body: dict = COLUMNS):
    return client.post(f"{API}/uploads/{staged.pk}/columns", body, content_type="application/json")


def post_submit(client, staged: StagedUpload):
    return client.post(f"{API}/uploads/{staged.pk}/submit")


def submitted(user) -> dict:
    return {"batch_job": BatchJobFactory(user=user)}


def expired(user) -> dict:
    return {"expires_at": timezone.now() - timedelta(minutes=1)}


def needing_columns(user) -> dict:
    return {"status": StagedUpload.Status.MAPPING, "mapping_problem": "Choose the columns."}


def rejected(user) -> dict:
    return {"status": StagedUpload.Status.REJECTED, "error_message": "Too many rows."}


def without_a_valid_row(user) -> dict:
    return {"valid_count": 0, "rows": {"valid": [], "invalid": [], "duplicates": []}}


@pytest.mark.parametrize(
    ("post", "state", "status", "code"),
    [
        (post_columns, submitted, 409, "upload_submitted"),
        (post_submit, needing_columns, 409, "upload_not_ready"),
        # A refused submit answered 400 here while the columns endpoint answered 409.
        (post_submit, rejected, 409, "nothing_to_submit"),
        (post_submit, without_a_valid_row, 409, "nothing_to_submit"),
        (post_columns, expired, 410, "upload_expired"),
        (post_submit, expired, 410, "upload_expired"),
    ],
)
def test_an_upload_that_cant_take_the_action_answers_as_the_table_says(
    api_client, user, post, state, status, code
):
    staged = StagedUploadFactory(user=user, **state(user))
    response = post(api_client, staged)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert set(response.json()) == {"detail", "code"}


def test_a_bad_mapping_answers_400_on_both_endpoints_that_take_one(api_client, user):
    upload = {"file": SimpleUploadedFile("sites.xlsx", xlsx_bytes([HEADER, GOOD_ROW]))}
    created = api_client.post(f"{API}/uploads", upload | {"mapping": '{"floor": "B"}'})
    remapped = post_columns(api_client, StagedUploadFactory(user=user), {"mapping": {"floor": "B"}})
    for response in (created, remapped):
        assert (response.status_code, response.json()["code"]) == (400, "bad_mapping")
        assert response.json()["detail"].startswith("mapping: ")


@pytest.mark.parametrize("action", ["cancel", "resume", "retry"])
def test_a_refused_job_action_answers_409_on_every_action(api_client, user, action):
    job = create_job(user=user, rows=1)
    if action == "cancel":
        api_client.post(f"{API}/jobs/{job.pk}/cancel")
    response = api_client.post(f"{API}/jobs/{job.pk}/{action}")
    assert response.status_code == 409
    assert response.json()["code"] == "action_refused"
    assert set(response.json()) == {"detail", "code"}
