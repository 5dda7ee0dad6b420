"""Asking for several speed/term options through the API (issue 21)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bulk.models import StagedUpload
from tests.api.conftest import API
from tests.bulk.conftest import csv_bytes

pytestmark = pytest.mark.django_db

SITES = [["Street", "City", "State", "ZIP"]] + [
    [f"{n} Main St", "Denver", "CO", "80202"] for n in range(1, 4)
]


def test_the_api_takes_options(api_client):
    options = [{"speed_mbps": 1000, "term_months": 36}, {"speed_mbps": 500, "term_months": 60}]
    response = api_client.post(
        f"{API}/uploads",
        {"file": SimpleUploadedFile("s.csv", csv_bytes(SITES)), "options": json.dumps(options)},
    )
    assert response.status_code == 201, response.content
    assert StagedUpload.objects.get().options == options
    labels = [o["label"] for o in response.json()["options"]]
    assert labels == ["1 Gbps · 36 mo", "500 Mbps · 60 mo"]
    job_id = api_client.post(f"{API}/uploads/{response.json()['id']}/submit").json()["id"]
    job = api_client.get(f"{API}/jobs/{job_id}").json()
    assert [o["label"] for o in job["options"]] == ["1 Gbps · 36 mo", "500 Mbps · 60 mo"]
    rows = api_client.get(f"{API}/jobs/{job_id}/results").json()["items"]
    assert [(r["row_number"], r["option"], r["speed_mbps"]) for r in rows[:2]] == [
        (2, 0, 1000),
        (2, 1, 500),
    ]


@pytest.mark.parametrize(
    "options",
    ['[{"speed_mbps": 750, "term_months": 36}]', "not json", '{"speed_mbps": 1000}'],
)
def test_bad_api_options_answer_400(api_client, options):
    response = api_client.post(
        f"{API}/uploads",
        {"file": SimpleUploadedFile("s.csv", csv_bytes(SITES)), "options": options},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_options"
    assert response.json()["detail"].startswith("options:")
    assert not StagedUpload.objects.exists()
