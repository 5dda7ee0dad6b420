"""Creating a job through the API: upload and validate, then submit."""

from datetime import datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bulk.models import BatchJob, StagedUpload
from tests.api.conftest import API
from tests.bulk.conftest import GOOD_ROW, HEADER, StagedUploadFactory, csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

ROWS = [
    HEADER,
    GOOD_ROW,
    ["9 Elm St", "Austin", "Texass", 78701],
    ["", "Denver", "CO", "80202"],
    ["1 Pine Rd", "Denver", "CO", "80202"],
    ["12 main st", "boston", "massachusetts", 2134],
]


def post_upload(client, data: bytes, name: str = "sites.xlsx", **fields):
    body = {"file": SimpleUploadedFile(name, data)} | fields
    return client.post(f"{API}/uploads", body)


def test_an_upload_answers_its_validation(api_client, user):
    response = post_upload(api_client, xlsx_bytes(ROWS), speed_mbps=500, notify_email="false")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "ready"
    assert (body["valid_count"], body["invalid_count"], body["duplicate_count"]) == (2, 2, 1)
    assert [row["row"] for row in body["invalid_rows"]] == [3, 4]
    assert 'State "Texass" is not a US state or USPS code' in body["invalid_rows"][0]["errors"][0]
    assert body["invalid_rows"][0]["cells"]["City"] == "Austin"
    assert body["duplicate_rows"] == [{"row": 6, "duplicate_of": 2}]
    assert (body["speed_mbps"], body["term_months"], body["notify_email"]) == (500, 36, False)
    staged = StagedUpload.objects.get(pk=body["id"])
    assert staged.user == user
    assert not BatchJob.objects.exists()


def test_a_file_that_cant_be_read_answers_400_and_saves_nothing(api_client):
    response = post_upload(api_client, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "x.csv")
    assert response.status_code == 400
    assert response.json()["code"] == "upload_rejected"
    assert "isn't a spreadsheet" in response.json()["detail"]
    assert not StagedUpload.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"speed_mbps": 123}, "speed_mbps"), ({"term_months": "soon"}, "term_months")],
)
def test_a_bad_option_answers_400_naming_it(api_client, fields, field):
    response = post_upload(api_client, xlsx_bytes(ROWS), **fields)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["detail"]


def test_an_upload_without_a_file_answers_400(api_client):
    response = api_client.post(f"{API}/uploads", {"speed_mbps": 1000})
    assert response.status_code == 400
    assert "file" in response.json()["detail"]


def test_the_upload_answer_has_the_columns_and_the_estimate(api_client, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 110
    settings.MOMENTUM_POLL_INTERVAL = 10
    body = post_upload(api_client, xlsx_bytes(ROWS)).json()
    assert body["mapping_source"] == "header"
    estimate = body["estimate"]
    assert estimate["rows"] == body["valid_count"] == 2
    assert (estimate["seconds"], estimate["measured"]) == (240, False)
    assert estimate["low_seconds"] < 240 < estimate["high_seconds"]


def test_a_headerless_file_is_read_with_the_mapping_sent(api_client):
    data = csv_bytes([["S1", "12 Main St", "Boston", "MA", "02134"]])
    response = post_upload(
        api_client,
        data,
        name="sites.csv",
        mapping='{"street": "B", "city": 3, "state": "D", "zip": 5}',
        no_header="true",
    )
    body = response.json()
    assert (response.status_code, body["status"], body["valid_count"]) == (201, "ready", 1)
    assert body["header_row"] is None
    assert body["mapping"] == {
        "street": "Column B",
        "city": "Column C",
        "state": "Column D",
        "zip": "Column E",
    }


def test_an_upload_needing_columns_is_mapped_through_the_columns_endpoint(api_client):
    data = csv_bytes(
        [["Name", "Where", "Town", "Region"], ["HQ", "420 El Cerrito Plaza", "El Cerrito", "CA"]]
    )
    body = post_upload(api_client, data, name="sites.csv").json()
    assert body["status"] == "mapping"
    assert api_client.post(f"{API}/uploads/{body['id']}/submit").status_code == 409
    response = api_client.post(
        f"{API}/uploads/{body['id']}/columns",
        {"mapping": {"street": "Where", "city": "Town", "state": "Region"}},
        content_type="application/json",
    )
    assert (response.json()["status"], response.json()["valid_count"]) == ("ready", 1)


def test_a_bad_mapping_answers_400(api_client):
    response = post_upload(api_client, xlsx_bytes(ROWS), mapping='{"street": "ZZZ"}')
    assert response.status_code == 400
    assert "ZZZ" in response.json()["detail"]


def test_submit_starts_the_job_once(api_client, user):
    upload_id = post_upload(api_client, xlsx_bytes(ROWS)).json()["id"]
    first = api_client.post(f"{API}/uploads/{upload_id}/submit")
    assert first.status_code == 201
    job = BatchJob.objects.get()
    assert first.json()["id"] == job.pk
    assert first.json()["counts"]["total"] == 2
    again = api_client.post(f"{API}/uploads/{upload_id}/submit")
    assert again.status_code == 200
    assert again.json()["id"] == job.pk
    assert BatchJob.objects.count() == 1
    assert api_client.get(f"{API}/uploads/{upload_id}").json()["job_id"] == job.pk


def test_another_users_upload_answers_404(api_client, other_user):
    staged = StagedUploadFactory(user=other_user)
    assert api_client.get(f"{API}/uploads/{staged.pk}").status_code == 404
    assert api_client.post(f"{API}/uploads/{staged.pk}/submit").status_code == 404
    assert not BatchJob.objects.exists()


def test_choosing_the_columns_of_another_users_upload_answers_404(api_client, other_user):
    staged = StagedUploadFactory(user=other_user, status=StagedUpload.Status.MAPPING)
    response = api_client.post(
        f"{API}/uploads/{staged.pk}/columns",
        {"mapping": {"street": "Street Address", "city": "City", "state": "State"}},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    staged.refresh_from_db()
    assert staged.status == StagedUpload.Status.MAPPING


def test_an_unknown_upload_id_answers_404_and_a_malformed_one_400(api_client):
    assert api_client.get(f"{API}/uploads/6d1b0c52-2f1e-4a7e-9a55-000000000000").status_code == 404
    assert api_client.get(f"{API}/uploads/not-a-uuid").status_code == 400


def test_an_expired_upload_answers_410(api_client, user):
    staged = StagedUploadFactory(user=user, expires_at=timezone.now() - timedelta(minutes=1))
    response = api_client.post(f"{API}/uploads/{staged.pk}/submit")
    assert response.status_code == 410
    assert response.json()["code"] == "upload_expired"


def test_an_upload_with_no_valid_row_answers_409_on_submit(api_client, user):
    staged = StagedUploadFactory(
        user=user, valid_count=0, rows={"valid": [], "invalid": [], "duplicates": []}
    )
    response = api_client.post(f"{API}/uploads/{staged.pk}/submit")
    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_submit"


def test_uploads_past_the_hourly_limit_answer_429_and_read_nothing(api_client, settings):
    settings.BULK_UPLOADS_PER_HOUR = 2
    for _ in range(2):
        assert post_upload(api_client, xlsx_bytes(ROWS)).status_code == 201
    response = post_upload(api_client, xlsx_bytes(ROWS))
    assert response.status_code == 429
    assert response.json()["code"] == "upload_rate_limited"
    assert "made 2 uploads in the last hour" in response.json()["detail"]
    assert StagedUpload.objects.count() == 2


def test_an_upload_with_a_need_by_answers_the_rows_by_then(api_client):
    need_by = (timezone.now() + timedelta(hours=3)).isoformat(timespec="seconds")
    body = post_upload(api_client, xlsx_bytes(ROWS), need_by=need_by).json()
    assert datetime.fromisoformat(body["need_by"]) == datetime.fromisoformat(need_by)
    assert body["estimate"]["rows_by_need_by"] == body["estimate"]["rows"] == 2


@pytest.mark.parametrize("need_by", ["2020-01-01T09:00:00+00:00", "2099-01-01T09:00:00"])
def test_a_need_by_in_the_past_or_without_a_zone_answers_400(api_client, need_by):
    response = post_upload(api_client, xlsx_bytes(ROWS), need_by=need_by)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_need_by"
