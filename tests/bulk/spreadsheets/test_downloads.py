"""The files given back: cells a spreadsheet would run as formulas are neutralised, and
every download is named after its upload, in one place for the results, the failed rows
and the invalid rows alike."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from bulk import exports
from bulk.models import BatchQuote
from bulk.spreadsheets.cells import FORMULA_PREFIXES, encode_cell, is_formula_like
from bulk.spreadsheets.downloads import download_file_name, neutralise, upload_file_name
from tests.bulk.conftest import BatchJobFactory, StagedUploadFactory
from tests.harness import create_job

# --- Formulas -----------------------------------------------------------------------------

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


@pytest.mark.parametrize("cell", DANGEROUS)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(cell):
    assert is_formula_like(cell)
    assert neutralise(cell) == "'" + cell


def test_every_formula_prefix_is_caught():
    assert [neutralise(prefix + "x") for prefix in FORMULA_PREFIXES] == [
        "'=x",
        "'+x",
        "'-x",
        "'@x",
        "'\tx",
        "'\rx",
    ]


def test_numbers_and_plain_text_are_left_alone():
    assert neutralise("12 Main St") == "12 Main St"
    assert neutralise(Decimal("-5.00")) == Decimal("-5.00")
    assert neutralise(None) is None


@pytest.mark.parametrize("value", [-5, -2.5, Decimal("-5.00"), None, "", "12 Main St", " =1"])
def test_only_text_starting_with_a_formula_prefix_is_formula_like(value):
    assert not is_formula_like(value)


@pytest.mark.django_db
def test_csv_results_neutralise_the_text_of_a_negative_duration():
    # The results CSV writes a duration as its text, "-1 day, 0:00:00": neutralised like
    # any text (before, only cells that were text already were).
    job = BatchJobFactory(total_count=1, source_columns=["Wait", "Street", "City", "ST", "Zip"])
    cells = [dt.timedelta(days=-1), "1 Main St", "Denver", "CO", "80202"]
    BatchQuote.objects.create(
        batch_job=job,
        row_number=2,
        street_address="1 Main St",
        city="Denver",
        state="CO",
        zip_code="80202",
        source_data=[encode_cell(c) for c in cells],
    )
    lines = list(csv.reader(io.StringIO("".join(exports.csv_chunks(job=job)))))
    assert lines[1][:2] == ["'-1 day, 0:00:00", "1 Main St"]


# --- Names --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_download_of_sites_ods_is_named_sites(user):
    # Before, the invalid rows were "sites.ods-invalid-rows.csv" and the failed rows
    # "sites-failed-rows.csv": two cleaners, two answers.
    staged = StagedUploadFactory(user=user, file_name="sites.ods")
    job = BatchJobFactory(user=user, file_name="sites.ods")
    assert exports.invalid_rows_file_name(staged=staged) == "sites-invalid-rows.csv"
    assert exports.export_file_name(job=job, fmt="csv", failed_only=True) == (
        "sites-failed-rows.csv"
    )
    assert exports.export_file_name(job=job, fmt="xlsx") == "sites-results.xlsx"


HOSTILE_NAMES = [
    ('Q3 "final" sites.xlsx', "Q3-final-sites"),
    ("it's; here.csv", "it-s-here"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\Desktop\\sites.xls", "sites"),
    ("sites\r\nSet-Cookie: x=1.csv", "sites-Set-Cookie-x-1"),
    ("sites\x00.ods", "sites"),
    ("\u202egpj.xlsx", "gpj"),
    ("Café Montréal.ods", "Café-Montréal"),
    ("Cafe\u0301.xlsx", "Café"),  # as a Mac sends it: an e and a combining accent
    ("東京 拠点.csv", "東京-拠点"),
    ("report.v2.XLSX", "report.v2"),
    ("a" * 300 + ".xlsx", "a" * 100),
    ("a" * 99 + " b.xlsx", "a" * 99),  # cut after a separator: no dangling dash
    ("!!!.csv", "upload"),
    (".xlsx", "upload"),
    ("", "upload"),
]


@pytest.mark.parametrize(("name", "stem"), HOSTILE_NAMES)
def test_a_download_name_keeps_only_safe_characters_of_the_upload_name(name, stem):
    assert download_file_name(name, "results.xlsx") == f"{stem}-results.xlsx"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "stem"), [n for n in HOSTILE_NAMES if n[1] != "upload"])
def test_the_invalid_rows_and_the_failed_rows_of_one_upload_have_one_name(user, name, stem):
    staged = StagedUploadFactory(user=user, file_name=upload_file_name(name))
    job = BatchJobFactory(user=user, file_name=staged.file_name)
    assert exports.invalid_rows_file_name(staged=staged) == f"{stem}-invalid-rows.csv"
    assert exports.export_file_name(job=job, fmt="csv", failed_only=True) == (
        f"{stem}-failed-rows.csv"
    )


@pytest.mark.django_db
def test_a_job_whose_name_has_nothing_safe_is_named_by_its_number(user):
    job = BatchJobFactory(user=user, file_name="!!!.xlsx")
    assert exports.export_file_name(job=job, fmt="xlsx") == f"job-{job.pk}-results.xlsx"


@pytest.mark.django_db
def test_a_non_ascii_name_is_sent_encoded_in_both_downloads(signed_in_client, user):
    staged = StagedUploadFactory(user=user, file_name="Café sites.ods")
    job = create_job(user=user, rows=1, file_name="Café sites.ods")
    invalid = signed_in_client.get(reverse("bulk:invalid_rows", args=[staged.pk]))
    results = signed_in_client.get(reverse("bulk:export", args=[job.pk, "csv"]))
    assert invalid["Content-Disposition"] == (
        "attachment; filename*=utf-8''Caf%C3%A9-sites-invalid-rows.csv"
    )
    assert results["Content-Disposition"] == (
        "attachment; filename*=utf-8''Caf%C3%A9-sites-results.csv"
    )


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("C:\\Users\\me\\Desktop\\sites.xlsx", "sites.xlsx"),
        ("/home/me/sites.csv", "sites.csv"),
        ("  sites.ods  ", "sites.ods"),
        ("sites\r\n.xlsx", "sites  .xlsx"),
        ("Café.xlsx", "Café.xlsx"),
        ("", "upload"),
        ("a" * 300, "a" * 255),
    ],
)
def test_an_upload_is_kept_under_its_own_name_without_folders_or_line_breaks(name, kept):
    assert upload_file_name(name) == kept
