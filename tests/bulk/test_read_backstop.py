"""The backstop of reading uploads (issue 18, item 1): a file read past its child
process's memory, CPU or time limits is one clear 4xx; the web process goes on."""

import pytest
from django.test import override_settings
from django.urls import reverse

from bulk.models import StagedUpload
from bulk.spreadsheets.isolated import TOO_COMPLEX, ReadLimits, read_sheets_isolated
from bulk.spreadsheets.reading import UploadRejected
from tests.bulk.conftest import upload, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = ["Street Address", "City", "State", "Zip"]


def big_sheet(rows: int) -> bytes:
    """An honest address list: within every bound the readers check."""
    return xlsx_bytes(
        [HEADER, *([f"{n + 1} Main Street", "Denver", "CO", "80202"] for n in range(rows))]
    )


@override_settings(BULK_READ_MEMORY_LIMIT_MB=1)
def test_a_read_past_its_memory_limit_is_a_clear_400_and_the_process_goes_on(client, user):
    client.force_login(user)
    data = big_sheet(5_000)
    response = client.post("/api/v1/uploads", {"file": upload(data)})
    assert response.status_code == 400, response.content
    assert "too complex to read" in response.content.decode()
    assert not StagedUpload.objects.exists()
    # The same process reads the next file (the child, not this process, ran out).
    with override_settings(BULK_READ_MEMORY_LIMIT_MB=512):
        again = client.post("/api/v1/uploads", {"file": upload(data)})
    assert again.status_code == 201, again.content
    assert again.json()["valid_count"] == 5_000


@override_settings(BULK_READ_TIMEOUT_SECONDS=0.001)
def test_a_read_past_its_time_is_a_clear_error_on_the_form(signed_in_client):
    form = {"speed_mbps": 1000, "term_months": 36}
    response = signed_in_client.post(
        reverse("bulk:index"), {**form, "file": upload(big_sheet(2_000))}
    )
    assert response.status_code == 200
    assert "too complex to read" in response.content.decode()
    assert not StagedUpload.objects.exists()


def test_an_honest_big_file_reads_in_the_child_and_a_refusal_keeps_its_message():
    file_format, sheets = read_sheets_isolated(big_sheet(20_000), ReadLimits())
    assert file_format == "xlsx"
    assert len(sheets[0][1]) == 20_001
    with pytest.raises(UploadRejected) as refused:
        read_sheets_isolated(b"PK\x03\x04 not a zip", ReadLimits())
    assert str(refused.value) != TOO_COMPLEX
