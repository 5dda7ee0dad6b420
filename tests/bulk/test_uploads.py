import csv
import io
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bulk.exports import invalid_rows_csv
from bulk.models import BatchJob, BatchQuote, StagedUpload
from bulk.services import uploads
from bulk.services.uploads import (
    NothingToSubmit,
    UploadExpired,
    UploadRejected,
    delete_expired_uploads,
    stage_upload,
    submit_staged_upload,
)
from bulk.spreadsheets.upload import parse_upload
from tests.bulk.conftest import (
    GOOD_ROW,
    HEADER,
    StagedUploadFactory,
    address_rows,
    csv_bytes,
    xlsx_bytes,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MESSY_ROWS = [
    ["Acme Corp sites"],
    [],
    ["Site", "Address", "Town", "ST", "Zip Code"],
    ["HQ", "12 Main St", "Boston", "massachusetts", 2134],
    ["Depot", "", "Austin", "TX", 78701],
    [None, None, None, None, None],
    ["Annex", "12 main st.", "BOSTON", "MA", "02134-0001"],
    ["Lab", "9 Elm St", "Austin", "Texas", "78701-1234"],
]


def stage(user, data: bytes, name: str = "sites.xlsx", **options) -> StagedUpload:
    defaults = {"speed_mbps": 500, "term_months": 24, "notify_email": False}
    return stage_upload(
        user=user,
        uploaded_file=io.BytesIO(data),
        file_name=name,
        **(defaults | options),
    )


# --- Staging ------------------------------------------------------------------------------


def test_stage_upload_holds_the_parsed_rows_and_counts(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS))
    assert staged.status == StagedUpload.Status.READY
    assert (staged.valid_count, staged.invalid_count, staged.duplicate_count) == (2, 1, 1)
    assert staged.columns == ["Site", "Address", "Town", "ST", "Zip Code"]
    assert staged.header_row == 3
    assert staged.rows["valid"][0] == [
        4,
        "12 MAIN ST",
        "BOSTON",
        "MA",
        "02134",
        "12 MAIN ST||BOSTON|MA|02134",
        ["HQ", "12 Main St", "Boston", "massachusetts", 2134],
        # No Speed or Term column: the job's speed and term.
        None,
        None,
    ]
    assert staged.rows["invalid"] == [
        [
            5,
            ["Depot", None, "Austin", "TX", 78701],
            ["Street address is missing"],
            ["Street address missing"],
        ]
    ]
    assert staged.rows["duplicates"] == [
        [7, 4, ["Annex", "12 main st.", "BOSTON", "MA", "02134-0001"]]
    ]


def test_stage_upload_keeps_the_job_options(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS), speed_mbps=2000, term_months=60)
    assert (staged.speed_mbps, staged.term_months, staged.notify_email) == (2000, 60, False)
    assert staged.user == user
    assert staged.file_name == "sites.xlsx"


def test_staged_upload_expires_after_a_day(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS))
    assert abs(staged.expires_at - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)
    assert not staged.is_expired


def test_preview_rows_hold_what_the_user_typed_and_why_it_fails(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS))
    assert staged.preview["invalid"] == [
        {"row": 5, "errors": ["Street address is missing"], "address": "Austin, TX, 78701"}
    ]
    assert staged.preview["duplicates"][0]["duplicate_of"] == 4
    assert [r["row"] for r in staged.preview["valid"]] == [4, 8]


def test_preview_keeps_only_the_first_rows(user):
    staged = stage(user, csv_bytes([HEADER, *address_rows(50)]), name="big.csv")
    assert staged.valid_count == 50
    assert len(staged.preview["valid"]) == uploads.PREVIEW_VALID_ROWS
    assert len(staged.rows["valid"]) == 50


def test_file_name_keeps_only_the_base_name(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS), name="C:\\Users\\me\\Desktop\\sites.xlsx")
    assert staged.file_name == "sites.xlsx"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"%PDF-1.4 binary\x00\x00", "This isn't a spreadsheet."),
        (csv_bytes([HEADER]), "but no address rows"),
        (csv_bytes([HEADER, [*GOOD_ROW[:3], "1" * 2000]]), "a cell may hold at most 1,000"),
    ],
    ids=["empty", "not-a-spreadsheet", "header-only", "over-long-cell"],
)
def test_whole_file_problems_are_rejected_and_nothing_is_created(user, data, message):
    with pytest.raises(UploadRejected, match=message):
        stage(user, data)
    assert StagedUpload.objects.count() == 0


def test_file_over_the_size_limit_is_rejected(user, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1000
    data = csv_bytes([HEADER, *address_rows(100)])
    assert len(data) > 1000
    with pytest.raises(UploadRejected, match="larger than the 1000\u00a0bytes limit"):
        stage(user, data)
    assert StagedUpload.objects.count() == 0


def test_file_over_the_row_limit_is_rejected(user, settings):
    settings.BULK_MAX_ROWS = 5
    with pytest.raises(UploadRejected, match="more than 5 address rows"):
        stage(user, xlsx_bytes([HEADER, *address_rows(6)]))
    assert StagedUpload.objects.count() == 0


def test_file_at_the_row_limit_is_accepted(user, settings):
    settings.BULK_MAX_ROWS = 5
    assert stage(user, xlsx_bytes([HEADER, *address_rows(5)])).valid_count == 5


def test_submit_creates_the_job_and_one_row_per_valid_address(user, dispatched):
    staged = stage(user, xlsx_bytes(MESSY_ROWS), speed_mbps=2000, term_months=12)
    job = submit_staged_upload(staged=staged, user=user)
    assert job.user == user
    assert job.status == BatchJob.Status.PENDING
    assert (job.file_name, job.speed_mbps, job.term_months, job.notify_email) == (
        "sites.xlsx",
        2000,
        12,
        False,
    )
    assert job.source_columns == ["Site", "Address", "Town", "ST", "Zip Code"]
    assert job.total_count == 2
    rows = list(job.rows.order_by("row_number"))
    assert [(r.row_number, r.street_address, r.city, r.state, r.zip_code) for r in rows] == [
        (4, "12 MAIN ST", "BOSTON", "MA", "02134"),
        (8, "9 ELM ST", "AUSTIN", "TX", "78701-1234"),
    ]
    assert rows[0].address_key == "12 MAIN ST||BOSTON|MA|02134"
    # The uploaded cells, typed: the ZIP stays the number the sheet holds.
    assert rows[0].source_data == ["HQ", "12 Main St", "Boston", "massachusetts", 2134]
    source = job.source
    assert (source.header_row, source.invalid_count, source.duplicate_count) == (3, 1, 1)
    assert source.skipped_reasons == {"Street address missing": 1}
    assert {r.status for r in rows} == {BatchQuote.Status.PENDING}


def submit_statements(user, *, rows: int, street: str) -> list[str]:
    """The SQL statements of submitting a csv of `rows` addresses on `street`."""
    lines = [[f"{n} {street} St", "Boston", "MA", "02134"] for n in range(1, rows + 1)]
    staged = stage(user, csv_bytes([HEADER, *lines]), name="sites.csv")
    with CaptureQueriesContext(connection) as queries:
        job = submit_staged_upload(staged=staged, user=user)
    assert job.rows.filter(quote__isnull=False).count() == rows
    return [query["sql"] for query in queries.captured_queries]


def test_submitting_1000_rows_takes_the_statements_of_100(user, other_user, dispatched):
    few = submit_statements(user, rows=100, street="Elm")
    many = submit_statements(other_user, rows=1000, street="Oak")
    assert len(few) < 40
    # The same statements; only SQLite, which caps a statement's parameters, splits the
    # bulk inserts into a few more batches.
    inserts = [s for s in many if s.startswith("INSERT")]
    assert len(many) - len(inserts) == len([s for s in few if not s.startswith("INSERT")])
    assert len(inserts) < 100
    if connection.vendor == "postgresql":
        assert len(many) == len(few)


def test_submit_wakes_the_engine_after_commit(user, dispatched, django_capture_on_commit_callbacks):
    staged = StagedUploadFactory(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        submit_staged_upload(staged=staged, user=user)
        assert dispatched == []  # not before the rows are committed
    assert dispatched == [()]


def test_submitting_twice_returns_the_same_job(user, dispatched):
    staged = StagedUploadFactory(user=user)
    first = submit_staged_upload(staged=staged, user=user)
    second = submit_staged_upload(staged=staged, user=user)
    assert first == second
    assert BatchJob.objects.count() == 1
    assert BatchQuote.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_make_one_job(dispatched):
    user = UserFactory()
    staged = StagedUploadFactory(user=user)
    barrier = threading.Barrier(2)
    jobs: list[int] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait(timeout=10)
            jobs.append(submit_staged_upload(staged=staged, user=user).pk)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(jobs) == 2
    assert jobs[0] == jobs[1]
    assert BatchJob.objects.count() == 1
    assert BatchQuote.objects.count() == 1
    assert len(dispatched) == 1


def test_submit_of_an_expired_upload_is_refused_and_creates_nothing(user, dispatched):
    staged = StagedUploadFactory(user=user, expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(UploadExpired, match="expired"):
        submit_staged_upload(staged=staged, user=user)
    assert BatchJob.objects.count() == 0


def test_submit_without_valid_rows_is_refused(user, dispatched):
    staged = StagedUploadFactory(user=user, valid_count=0, rows={"valid": [], "invalid": []})
    with pytest.raises(NothingToSubmit):
        submit_staged_upload(staged=staged, user=user)
    assert BatchJob.objects.count() == 0
    assert dispatched == []


def test_submit_by_another_user_is_refused(user, other_user, dispatched):
    staged = StagedUploadFactory(user=user)
    with pytest.raises(UploadExpired):
        submit_staged_upload(staged=staged, user=other_user)
    assert BatchJob.objects.count() == 0


def test_submitted_upload_stays_submitted_after_expiry(user, dispatched):
    staged = StagedUploadFactory(user=user)
    job = submit_staged_upload(staged=staged, user=user)
    StagedUpload.objects.filter(pk=staged.pk).update(expires_at=timezone.now())
    assert submit_staged_upload(staged=staged, user=user) == job


# --- Expiry -------------------------------------------------------------------------------


def test_delete_expired_uploads_deletes_only_expired_ones(user):
    StagedUploadFactory(user=user, expires_at=timezone.now() - timedelta(minutes=1))
    live = StagedUploadFactory(user=user)
    assert delete_expired_uploads() == 1
    assert list(StagedUpload.objects.all()) == [live]


def test_deleting_an_expired_upload_keeps_its_job(user, dispatched):
    staged = StagedUploadFactory(user=user)
    job = submit_staged_upload(staged=staged, user=user)
    StagedUpload.objects.filter(pk=staged.pk).update(expires_at=timezone.now())
    assert delete_expired_uploads() == 1
    assert BatchJob.objects.filter(pk=job.pk).exists()


# --- Invalid rows download ----------------------------------------------------------------


def test_invalid_rows_csv_has_the_original_columns_and_an_error_column(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS))
    rows = list(csv.reader(io.StringIO(invalid_rows_csv(staged=staged))))
    assert rows == [
        ["Site", "Address", "Town", "ST", "Zip Code", "Error"],
        ["Depot", "", "Austin", "TX", "78701", "Street address is missing"],
    ]


def test_invalid_rows_csv_neutralises_formula_cells(user):
    rows = [[*HEADER, "Notes"], ["=HYPERLINK(1)", "+Boston", "-MA", "@x", "\tcell"]]
    staged = stage(user, csv_bytes(rows), name="bad.csv")
    out = list(csv.reader(io.StringIO(invalid_rows_csv(staged=staged))))
    assert out[1][:5] == ["'=HYPERLINK(1)", "'+Boston", "'-MA", "'@x", "cell"]


def test_invalid_rows_csv_can_be_fixed_and_uploaded_again(user):
    staged = stage(user, xlsx_bytes(MESSY_ROWS))
    again = parse_upload(invalid_rows_csv(staged=staged).encode("utf-8"))
    assert [r.errors for r in again.invalid_rows] == [["Street address is missing"]]
    fixed = (
        invalid_rows_csv(staged=staged)
        .replace('Depot,"",', "Depot,1 Oak Ave,")
        .replace("Depot,,", "Depot,1 Oak Ave,")
    )
    restaged = stage(user, fixed.encode("utf-8"), name="fixed.csv")
    assert restaged.valid_count == 1
    assert "Error" in restaged.columns
    # The old error column is not carried into a second download.
    assert invalid_rows_csv(staged=restaged).splitlines()[0].count("Error") == 1
