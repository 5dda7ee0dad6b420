"""Bad inputs on `POST /uploads` and `POST /uploads/{id}/columns`: a 400 with a readable
detail, never a 500 (run these with DATABASE_URL set to a PostgreSQL database too)."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bulk.models import ColumnMapping, StagedUpload
from tests.api.conftest import API
from tests.bulk import hostile_files
from tests.bulk.bad_files import (
    bad_crc_xlsx,
    corrupt_deflate_xlsx,
    wide_headerless_csv,
    xls_bytes,
)
from tests.bulk.conftest import (
    GOOD_ROW,
    HEADER,
    StagedUploadFactory,
    csv_bytes,
    ods_bytes,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

DAMAGED = "This workbook is damaged (a part of it can't be unpacked)"
DAMAGED_FILES = [corrupt_deflate_xlsx, bad_crc_xlsx]
DAMAGED_IDS = ["corrupt-deflate-zlib-error", "bad-crc-BadZipFile"]
NUL_STREET = ["12 Main\x00 St", "Boston", "MA", "02134"]
CONTROL_FILES = {
    "xlsx-nul": (
        lambda: xlsx_bytes([HEADER, ["12 Main_x0000_ St", "Boston", "MA", 2134]]),
        "s.xlsx",
    ),
    "xls-nul": (lambda: xls_bytes([HEADER, NUL_STREET]), "s.xls"),
    "ods-nul": (lambda: ods_bytes([HEADER, NUL_STREET]), "s.ods"),
    "csv-c0": (
        lambda: csv_bytes([HEADER, ["12 Main\x07\x1f St", "Boston", "MA", "02134"]]),
        "s.csv",
    ),
}
NO_HEADER = {"street": "A", "city": "B", "state": "C", "zip": "D"}


def post_upload(client, data: bytes, name: str = "sites.xlsx"):
    return client.post(f"{API}/uploads", {"file": SimpleUploadedFile(name, data)})


def post_columns(client, upload_id, mapping: dict, *, no_header: bool = False):
    body = {"mapping": mapping, "no_header": no_header}
    return client.post(f"{API}/uploads/{upload_id}/columns", body, content_type="application/json")


@pytest.mark.parametrize("damaged", DAMAGED_FILES, ids=DAMAGED_IDS)
def test_a_damaged_workbook_answers_400(api_client, damaged):
    response = post_upload(api_client, damaged())
    assert response.status_code == 400
    assert response.json()["code"] == "upload_rejected"
    assert DAMAGED in response.json()["detail"]
    assert not StagedUpload.objects.exists()


@pytest.mark.parametrize("damaged", DAMAGED_FILES, ids=DAMAGED_IDS)
def test_choosing_the_columns_of_a_damaged_workbook_answers_400(api_client, user, damaged):
    staged = StagedUploadFactory(user=user, status=StagedUpload.Status.MAPPING, content=damaged())
    response = post_columns(api_client, staged.pk, NO_HEADER, no_header=True)
    assert response.status_code == 400
    assert DAMAGED in response.json()["detail"]


@pytest.mark.parametrize("case", CONTROL_FILES, ids=list(CONTROL_FILES))
def test_control_characters_in_a_cell_are_removed(api_client, case):
    build, name = CONTROL_FILES[case]
    response = post_upload(api_client, build(), name)
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["valid_count"]) == ("ready", 1)
    staged = StagedUpload.objects.get()
    assert staged.rows["valid"][0][6][0] == "12 Main St"
    assert api_client.post(f"{API}/uploads/{staged.pk}/submit").status_code == 201


def test_a_nul_in_a_csv_answers_400(api_client):
    response = post_upload(api_client, csv_bytes([HEADER, NUL_STREET]), "sites.csv")
    assert response.status_code == 400
    assert "This isn't a spreadsheet." in response.json()["detail"]


def test_a_csv_mixing_utf8_and_windows_1252_answers_400_naming_the_lines(api_client):
    data = csv_bytes([HEADER, ["1 Rue Café", "Boston", "MA", "02134"]])
    data += "5 Chemin Montréal,Boston,MA,02134\r\n".encode("cp1252")
    response = post_upload(api_client, data, "sites.csv")
    assert response.status_code == 400
    assert response.json()["code"] == "upload_rejected"
    assert "line 3 isn't UTF-8 but line 2 is" in response.json()["detail"]
    assert not StagedUpload.objects.exists()


def test_choosing_the_columns_of_a_file_with_a_nul_stores_it_without(api_client):
    rows = [
        ["Name", "Where", "Town", "Zone"],
        ["HQ", "420 El Cerrito_x0000_ Plaza", "El Cerrito", "CA"],
    ]
    body = post_upload(api_client, xlsx_bytes(rows)).json()
    assert body["status"] == "mapping"
    response = post_columns(api_client, body["id"], {"street": "B", "city": "C", "state": "D"})
    assert (response.status_code, response.json()["valid_count"]) == (200, 1)
    staged = StagedUpload.objects.get()
    assert staged.rows["valid"][0][6][1] == "420 El Cerrito Plaza"


def test_a_headerless_file_of_64_columns_is_read_and_its_columns_remembered(api_client, user):
    response = post_upload(api_client, wide_headerless_csv(64), "wide.csv")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["valid_count"]) == ("ready", 2)
    response = post_columns(api_client, body["id"], NO_HEADER, no_header=True)
    assert response.status_code == 200
    assert ColumnMapping.objects.filter(user=user).count() == 1
    again = post_upload(api_client, wide_headerless_csv(64), "again.csv").json()
    assert again["mapping_source"] == "remembered"


def test_a_formula_for_a_street_is_an_invalid_row_not_an_address(api_client):
    rows = [HEADER, ['=HYPERLINK("http://x","y")', "Boston", "MA", "02134"], GOOD_ROW]
    body = post_upload(api_client, csv_bytes(rows), "sites.csv").json()
    assert (body["valid_count"], body["invalid_count"]) == (1, 1)
    assert body["invalid_rows"][0]["errors"] == [
        'Street address "=HYPERLINK("http://x","y")" is a spreadsheet formula, not an address'
    ]


HOSTILE_FILES = {
    "xlsx-unclosed-tags": (hostile_files.unclosed_tag_xlsx, "s.xlsx"),
    "ods-rows-repeated-16": (lambda: hostile_files.repeated_rows_ods(16), "s.ods"),
    "ods-rows-repeated-64": (lambda: hostile_files.repeated_rows_ods(64), "s.ods"),
    "xls-last-cell": (lambda: xls_bytes([HEADER, GOOD_ROW], far_cell=(65535, 255)), "s.xls"),
    "xlsx-33-mb-shared-strings": (lambda: hostile_files.huge_shared_strings_xlsx(33), "s.xlsx"),
}


@pytest.mark.parametrize("build", HOSTILE_FILES.values(), ids=HOSTILE_FILES.keys())
def test_a_hostile_file_answers_400_in_under_2_s(api_client, build):
    builder, name = build
    data = builder()
    start = time.perf_counter()
    response = post_upload(api_client, data, name)
    assert time.perf_counter() - start < 2
    assert response.status_code == 400
    assert "far more than an address list needs" in response.json()["detail"]


def test_a_csv_that_defeats_the_sniffer_answers_in_under_2_s(api_client):
    data = hostile_files.semicolon_quote_csv()
    start = time.perf_counter()
    response = post_upload(api_client, data, "s.csv")
    assert time.perf_counter() - start < 2
    # No address columns to be found: the user is asked to choose them.
    assert (response.status_code, response.json()["status"]) == (201, "mapping")
