"""Bad inputs on the web form and the columns step: a clear form error or message, never a
500; and what a bad cell or a wide file leaves stored is what PostgreSQL accepts (run these
with DATABASE_URL set to a PostgreSQL database too)."""

import pytest
from django.urls import reverse

from bulk.models import BatchQuote, ColumnMapping, StagedUpload
from bulk.services import uploads
from tests.bulk.bad_files import (
    bad_crc_xlsx,
    corrupt_deflate_xlsx,
    wide_headerless_csv,
    xls_bytes,
)
from tests.bulk.conftest import (
    HEADER,
    StagedUploadFactory,
    csv_bytes,
    ods_bytes,
    upload,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("bulk:index")
DAMAGED = "This workbook is damaged (a part of it can&#x27;t be unpacked)"
DAMAGED_FILES = [corrupt_deflate_xlsx, bad_crc_xlsx]
DAMAGED_IDS = ["corrupt-deflate-zlib-error", "bad-crc-BadZipFile"]
# A street with control characters in it, each format's way (`_x0000_` is how an xlsx
# writes a NUL).
CONTROL_STREETS = {
    "xlsx-nul": (
        lambda: xlsx_bytes([HEADER, ["12 Main_x0000_ St", "Boston", "MA", 2134]]),
        "s.xlsx",
    ),
    "xls-nul": (lambda: xls_bytes([HEADER, ["12 Main\x00 St", "Boston", "MA", "02134"]]), "s.xls"),
    "ods-nul": (lambda: ods_bytes([HEADER, ["12 Main\x00 St", "Boston", "MA", "02134"]]), "s.ods"),
    "csv-c0": (
        lambda: csv_bytes([HEADER, ["12 Main\x01\x1b St", "Boston", "MA", "02134"]]),
        "s.csv",
    ),
}
NO_HEADER = {"street": "0", "city": "1", "state": "2", "zip": "3", "no_header": "on", "sheet": ""}


def post_file(client, data: bytes, name: str = "sites.xlsx"):
    form = {"speed_mbps": 1000, "term_months": 36, "notify_email": "on"}
    return client.post(INDEX, {**form, "file": upload(data, name)})


@pytest.mark.parametrize("damaged", DAMAGED_FILES, ids=DAMAGED_IDS)
def test_a_damaged_workbook_is_a_form_error(signed_in_client, damaged):
    response = post_file(signed_in_client, damaged())
    assert response.status_code == 200
    assert DAMAGED in response.content.decode()
    assert not StagedUpload.objects.exists()


@pytest.mark.parametrize("damaged", DAMAGED_FILES, ids=DAMAGED_IDS)
def test_choosing_the_columns_of_a_damaged_workbook_says_why(signed_in_client, user, damaged):
    staged = StagedUploadFactory(user=user, status=StagedUpload.Status.MAPPING, content=damaged())
    response = signed_in_client.post(reverse("bulk:columns", args=[staged.pk]), NO_HEADER)
    assert response.status_code == 400
    assert DAMAGED in response.content.decode()


@pytest.mark.parametrize("case", CONTROL_STREETS, ids=list(CONTROL_STREETS))
def test_control_characters_in_a_cell_are_removed_and_the_row_quoted(signed_in_client, case):
    build, name = CONTROL_STREETS[case]
    response = post_file(signed_in_client, build(), name)
    staged = StagedUpload.objects.get()
    assert response["Location"] == reverse("bulk:preview", args=[staged.pk])
    assert (staged.status, staged.valid_count) == (StagedUpload.Status.READY, 1)
    assert staged.rows["valid"][0][6][0] == "12 Main St"
    uploads.submit_staged_upload(staged=staged, user=staged.user)
    row = BatchQuote.objects.get()
    assert (row.street_address, row.source_data[0]) == ("12 MAIN ST", "12 Main St")


def test_a_nul_in_a_csv_is_a_form_error(signed_in_client):
    data = csv_bytes([HEADER, ["12 Main\x00 St", "Boston", "MA", "02134"]])
    response = post_file(signed_in_client, data, "sites.csv")
    assert response.status_code == 200
    assert "This isn&#x27;t a spreadsheet." in response.content.decode()
    assert not StagedUpload.objects.exists()


def test_choosing_the_columns_of_a_file_with_a_nul_stores_it_without(signed_in_client, user):
    rows = [
        ["Name", "Where", "Town", "Zone"],
        ["HQ", "420 El Cerrito_x0000_ Plaza", "El Cerrito", "CA"],
    ]
    data = xlsx_bytes(rows)
    post_file(signed_in_client, data)
    staged = StagedUpload.objects.get()
    assert staged.status == StagedUpload.Status.MAPPING
    form = {"street": "1", "city": "2", "state": "3", "sheet": staged.sheet_name}
    response = signed_in_client.post(reverse("bulk:columns", args=[staged.pk]), form)
    assert response.status_code == 302
    staged.refresh_from_db()
    assert staged.rows["valid"][0][6][1] == "420 El Cerrito Plaza"


def test_a_headerless_file_of_64_columns_is_read_and_its_columns_remembered(signed_in_client, user):
    response = post_file(signed_in_client, wide_headerless_csv(64), "wide.csv")
    staged = StagedUpload.objects.get()
    assert response["Location"] == reverse("bulk:preview", args=[staged.pk])
    assert (staged.status, staged.valid_count, len(staged.columns)) == ("ready", 2, 64)
    assert len(staged.signature) <= StagedUpload._meta.get_field("signature").max_length
    response = signed_in_client.post(reverse("bulk:columns", args=[staged.pk]), NO_HEADER)
    assert response.status_code == 302
    assert ColumnMapping.objects.get(user=user).signature == staged.signature
    post_file(signed_in_client, wide_headerless_csv(64), "again.csv")
    again = StagedUpload.objects.exclude(pk=staged.pk).get()
    assert again.mapping_source == "remembered"
