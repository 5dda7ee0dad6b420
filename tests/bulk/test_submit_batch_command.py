import json
import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from bulk.management.commands import submit_batch
from bulk.models import BatchJob, BatchQuote, StagedUpload
from tests.bulk.conftest import GOOD_ROW, HEADER, csv_bytes, xlsx_bytes
from tests.harness import create_job
from tests.quotes.factories import QuoteFactory

pytestmark = pytest.mark.django_db

ROWS = [
    ["Sites"],
    HEADER,
    GOOD_ROW,
    ["9 Elm St", "Austin", "Texas", 78701],
    ["", "Austin", "TX", 78701],
    ["12 MAIN ST", "Boston", "MA", 2134],
]


@pytest.fixture
def sheet(tmp_path):
    path = tmp_path / "sites.xlsx"
    path.write_bytes(xlsx_bytes(ROWS))
    return path


def run(*args) -> str:
    out = StringIO()
    call_command("submit_batch", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def run_json(*args) -> dict:
    return json.loads(run(*args, "--json"))


def test_dry_run_reports_the_validation_and_creates_nothing(sheet, user):
    out = run(sheet, "--user", user.email, "--dry-run")
    assert "2 valid, 1 invalid, 1 duplicate rows" in out
    assert "row 5: Street address is missing" in out
    assert BatchJob.objects.count() == 0
    assert StagedUpload.objects.count() == 0


def test_dry_run_json_has_the_counts(sheet, user):
    result = run_json(sheet, "--user", user.email, "--dry-run")
    assert (result["valid"], result["invalid"], result["duplicates"]) == (2, 1, 1)
    assert result["invalid_rows"] == [{"row": 5, "errors": ["Street address is missing"]}]
    assert "job_id" not in result


def test_dry_run_estimates_the_rows_at_the_back_of_the_line(sheet, user, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 55
    settings.MOMENTUM_POLL_INTERVAL = 5
    create_job(user=user, rows=5)  # round-robin: 2 of its rows go before our last
    create_job(user=user, rows=4, paused_at=timezone.now())  # held back by staff
    QuoteFactory()  # a single quote goes first
    before = timezone.now()
    estimate = run_json(sheet, "--user", user.email, "--dry-run")["estimate"]
    # `seconds` runs to the last row's expected price: the 3 quotes ahead and its own 2.
    assert (estimate["rows"], estimate["ahead"], estimate["seconds"]) == (2, 1 + 2, 300)
    assert estimate["low_seconds"] < 300 < estimate["high_seconds"]
    assert (estimate["need_by"], estimate["rows_by_need_by"]) == (None, None)
    expected = before + timedelta(seconds=60 * (3 + 2))
    finish = datetime.fromisoformat(estimate["finish_at"])
    assert abs((finish - expected).total_seconds()) <= 2


def test_submit_creates_the_job_like_the_web_upload(sheet, user, dispatched):
    out = run(sheet, "--user", user.email.upper(), "--speed", "500", "--term", "12", "--no-email")
    job = BatchJob.objects.get()
    assert f"Submitted as job {job.pk} with 2 addresses." in out
    assert (job.user, job.speed_mbps, job.term_months, job.notify_email) == (user, 500, 12, False)
    assert job.file_name == "sites.xlsx"
    assert list(job.rows.values_list("row_number", "zip_code")) == [(3, "02134"), (4, "78701")]


def test_submit_defaults_to_one_gig_three_years_and_email(sheet, user, dispatched):
    run(sheet, "--user", user.email)
    job = BatchJob.objects.get()
    assert (job.speed_mbps, job.term_months, job.notify_email) == (1000, 36, True)


def test_submit_json_describes_the_job(sheet, user, dispatched):
    result = run_json(sheet, "--user", user.email)
    job = BatchJob.objects.get()
    assert {k: result[k] for k in ("valid", "invalid", "duplicates")} == {
        "valid": 2,
        "invalid": 1,
        "duplicates": 1,
    }
    assert {k: result[k] for k in ("job_id", "status", "total", "processed")} == {
        "job_id": job.pk,
        "status": "pending",
        "total": 2,
        "processed": 0,
    }
    assert (result["succeeded"], result["failed"]) == (0, 0)


def test_csv_files_are_accepted(tmp_path, user, dispatched):
    path = tmp_path / "sites.csv"
    path.write_bytes(csv_bytes([HEADER, GOOD_ROW], encoding="cp1252"))
    assert run_json(path, "--user", user.email)["total"] == 1


def test_rejected_file_fails_with_its_message(tmp_path, user):
    path = tmp_path / "sites.csv"
    path.write_bytes(csv_bytes([HEADER]))
    with pytest.raises(CommandError, match="but no address rows"):
        run(path, "--user", user.email)
    assert StagedUpload.objects.count() == 0


def test_rejected_file_json_has_the_error(tmp_path, user):
    path = tmp_path / "sites.pdf"
    path.write_bytes(b"%PDF-1.4\x00\x00")
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("submit_batch", str(path), "--user", user.email, "--json", stdout=out)
    assert "isn't a spreadsheet" in json.loads(out.getvalue())["error"]


def test_file_with_no_valid_row_fails(tmp_path, user, dispatched):
    path = tmp_path / "sites.csv"
    path.write_bytes(csv_bytes([HEADER, ["", "Boston", "MA", "02134"]]))
    with pytest.raises(CommandError, match="nothing to quote"):
        run(path, "--user", user.email)
    assert BatchJob.objects.count() == 0


def test_unknown_user_fails(sheet):
    with pytest.raises(CommandError, match=re.escape("No user with the email nobody@example.com")):
        run(sheet, "--user", "nobody@example.com")


def test_missing_file_fails(tmp_path, user):
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "nope.xlsx", "--user", user.email)


def test_speed_outside_the_choices_fails(sheet, user):
    with pytest.raises(CommandError, match="invalid choice"):
        run(sheet, "--user", user.email, "--speed", "123")


def test_file_over_the_row_limit_fails(sheet, user, settings):
    settings.BULK_MAX_ROWS = 2
    with pytest.raises(CommandError, match="more than 2 address rows"):
        run(sheet, "--user", user.email)


def finish_job_on_sleep(monkeypatch, **fields):
    """Stand in for the engine: the first wait finds the job ended with `fields`."""

    def sleep(seconds):
        job = BatchJob.objects.get()
        BatchQuote.objects.filter(batch_job=job).update(status=BatchQuote.Status.COMPLETE)
        BatchJob.objects.filter(pk=job.pk).update(**fields)

    monkeypatch.setattr(submit_batch.time, "sleep", sleep)


def test_wait_follows_the_job_and_exits_zero_when_it_completes(
    sheet, user, dispatched, monkeypatch
):
    finish_job_on_sleep(
        monkeypatch,
        status=BatchJob.Status.COMPLETE,
        processed_count=2,
        success_count=2,
    )
    result = run_json(sheet, "--user", user.email, "--wait", "--poll-interval", "0")
    assert (result["status"], result["processed"], result["succeeded"]) == ("complete", 2, 2)


def test_wait_exits_non_zero_when_the_job_fails(sheet, user, dispatched, monkeypatch):
    finish_job_on_sleep(
        monkeypatch,
        status=BatchJob.Status.FAILED,
        processed_count=2,
        failed_count=2,
    )
    out = StringIO()
    with pytest.raises(CommandError, match="ended failed") as error:
        call_command(
            "submit_batch", str(sheet), "--user", user.email, "--wait", "--json", stdout=out
        )
    assert error.value.returncode == 1
    assert json.loads(out.getvalue())["failed"] == 2


def test_wait_gives_up_after_its_timeout(sheet, user, dispatched, monkeypatch):
    monkeypatch.setattr(submit_batch.time, "sleep", lambda seconds: None)
    with pytest.raises(CommandError, match=re.escape("had not ended after 0.01 seconds")):
        run(sheet, "--user", user.email, "--wait", "--poll-interval", "0", "--timeout", "0.01")


# --- Choosing the columns -----------------------------------------------------------------

HEADERLESS = [
    ["1", "420 El Cerrito Plaza", "El Cerrito", "CA", "94530"],
    ["2", "300 State Street", "Boston", "MA", "02109"],
    ["3", "1 Elm St", "Salt Lake City", "UT", "8411"],
]


@pytest.fixture
def headerless(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes(HEADERLESS))
    return path


def test_no_header_and_numbered_columns(headerless, user):
    result = run_json(
        headerless,
        *["--user", user.email, "--no-header", "--dry-run"],
        *["--map", "street=2", "--map", "city=3", "--map", "state=4", "--map", "zip=5"],
    )
    assert (result["valid"], result["invalid"]) == (2, 1)
    assert result["invalid_rows"] == [{"row": 3, "errors": ["ZIP 08411 is in NJ, not UT"]}]
    assert result["mapping"] == {
        "street": "Column B",
        "city": "Column C",
        "state": "Column D",
        "zip": "Column E",
    }
    assert result["mapping_source"] == "given"
    assert result["estimate"]["rows"] == 2


def test_one_full_address_column_by_letter(tmp_path, user):
    path = tmp_path / "one-line.csv"
    path.write_bytes(csv_bytes([["1", "420 El Cerrito Plaza, El Cerrito, CA"]]))
    result = run_json(path, "--user", user.email, "--no-header", "--map", "address=B", "--dry-run")
    assert (result["valid"], result["mapping"]) == (1, {"address": "Column B"})


def test_a_header_name_can_name_the_column(tmp_path, user):
    path = tmp_path / "named.csv"
    path.write_bytes(
        csv_bytes([["Where", "Town", "Region"], ["420 El Cerrito Plaza", "El Cerrito", "CA"]])
    )
    args = ["--map", "street=Where", "--map", "city=town", "--map", "state=C"]
    result = run_json(path, "--user", user.email, *args, "--dry-run")
    assert result["valid"] == 1


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("street", "write FIELD=COLUMN"),
        ("road=B", "Unknown field road"),
        ("street=Q9", "No column"),
    ],
)
def test_a_bad_map_is_refused_clearly(headerless, user, pair, message):
    with pytest.raises(CommandError, match=message):
        run(headerless, "--user", user.email, "--no-header", "--map", pair, "--dry-run")


def test_the_mapping_used_is_remembered_for_the_next_file(headerless, user, dispatched):
    args = ["--map", "street=2", "--map", "city=3", "--map", "state=4", "--map", "zip=5"]
    run(headerless, "--user", user.email, "--no-header", *args, "--no-email")
    # The next file of the same layout, with no --map, is read the same way.
    result = run_json(headerless, "--user", user.email, "--dry-run")
    assert (result["mapping_source"], result["valid"]) == ("remembered", 2)


def test_a_file_whose_columns_cant_be_found_asks_for_map(tmp_path, user):
    path = tmp_path / "odd.csv"
    path.write_bytes(csv_bytes([["alpha", "beta"], ["x", "y"]]))
    with pytest.raises(CommandError, match="Name them with --map FIELD=COLUMN"):
        run(path, "--user", user.email, "--dry-run")


def test_dry_run_with_a_need_by_says_how_many_rows_by_then(sheet, user):
    need_by = (timezone.now() + timedelta(days=2)).isoformat(timespec="seconds")
    estimate = run_json(sheet, "--user", user.email, "--dry-run", "--need-by", need_by)["estimate"]
    assert set(estimate) == {
        "rows",
        "ahead",
        "seconds",
        "low_seconds",
        "high_seconds",
        "finish_at",
        "need_by",
        "rows_by_need_by",
    }
    assert datetime.fromisoformat(estimate["need_by"]) == datetime.fromisoformat(need_by)
    assert estimate["rows_by_need_by"] == 2
