"""A person's whole bulk job, in Chromium, against a live server, real workers and the
sandbox: sign in, upload, preview, submit, watch, download, get the email."""

from __future__ import annotations

import io
import time
from pathlib import Path

import openpyxl
import pytest

from bulk.exports import RESULT_COLUMNS
from bulk.models import BatchJob, BatchQuote
from tests.bulk.conftest import xlsx_bytes
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.harness import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ARTIFACTS = Path(__file__).parent / "artifacts"

HEADER = ["Site", "Street Address", "City", "State", "Zip"]
VALID = [
    ["S1", "12 Main St", "Boston", "MA", "02134"],
    ["S2", "9 Elm St", "Austin", "TX", "78701"],
    ["S3", "400 Pine Rd", "Denver", "CO", "80202"],
    # The sandbox has no coverage for ZIPs starting 999: this row fails at Momentum.
    ["S4", "1 Glacier Way", "Juneau", "AK", "99901"],
    ["S5", "77 Harbor Blvd", "Seattle", "WA", "98101"],
]
BAD = [
    ["S6", "5 Lake Dr", "Atlantis", "Texass", "73301"],
    ["S7", "", "Portland", "ME", "04101"],
]


def test_a_bulk_job_from_upload_to_email(chromium, live_server, engine, sandbox, tmp_path):
    from playwright.sync_api import expect

    # Slow enough pricing that the page refreshes (every 3 s) while the job runs.
    sandbox.configure(delay_min=1.5, delay_max=1.5)
    engine.start()
    user = UserFactory(email="ada@example.com")
    sheet = tmp_path / "Q3 sites.xlsx"
    sheet.write_bytes(xlsx_bytes([HEADER, *VALID[:3], BAD[0], *VALID[3:], BAD[1]]))
    ARTIFACTS.mkdir(exist_ok=True)

    context = chromium.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    # Everything below runs under the Content-Security-Policy: the browser reports any
    # script or style it refused on the console.
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # Sign in.
    first = page.goto(f"{live_server.url}/accounts/login/")
    assert "script-src 'self'" in first.headers["content-security-policy"]
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Bulk quotes")).to_be_visible()

    # Upload: the preview separates the bad rows, with the reason for each.
    page.get_by_label("Spreadsheet").set_input_files(str(sheet))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", name="Invalid rows (2)")).to_be_visible()
    expect(page.get_by_text('State "Texass" is not a US state or USPS code')).to_be_visible()
    expect(page.get_by_text("Street address is missing")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "preview.png"), full_page=True)

    # Submit, and watch the bar move without reloading the page.
    page.get_by_role("button", name="Quote 5 addresses").click()
    expect(page.get_by_role("heading", name="Q3 sites.xlsx")).to_be_visible()
    bar = page.get_by_role("progressbar", name="Progress")
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if page.locator("#job-summary").count():
            break  # the job ended and the page reloaded itself, once
        if bar.count():
            value = int(bar.get_attribute("aria-valuenow") or 0)
            if 0 < value < 100 and not any(0 < v < 100 for v in seen):
                page.screenshot(path=str(ARTIFACTS / "job-running.png"), full_page=True)
            seen.add(value)
        page.wait_for_timeout(250)
    else:
        raise AssertionError(f"the job did not finish in the browser\n{engine.logs()}")
    assert any(0 < value < 100 for value in seen), seen
    # The live updates above came from htmx, under the policy, with nothing refused.
    assert refused == []
    assert page.locator("style").count() == 0  # htmx's indicator style stayed out

    # The finished job: counts, summary, and no more polling.
    expect(page.locator(".job-status .badge")).to_have_text("Complete")
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute(
        "aria-valuenow", "100"
    )
    assert page.locator("#job-progress[hx-trigger]").count() == 0
    expect(page.locator(".stat.ok .value")).to_have_text("4")
    # The unserved address is no coverage, counted apart from failures.
    expect(page.get_by_test_id("failed-count")).to_have_text("0")
    expect(page.get_by_test_id("no-coverage-count")).to_have_text("1")
    expect(page.get_by_role("list", name="Quotes per carrier")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "job-finished.png"), full_page=True)

    # Download the results: the uploaded columns, the results, in the sheet's row order.
    with page.expect_download() as download_info:
        page.locator(".downloads").get_by_role("link", name="xlsx").first.click()
    download = download_info.value
    assert download.suggested_filename == "Q3-sites-results.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0] == (*HEADER, *RESULT_COLUMNS)
    # Every row of the upload, in its order, the invalid ones too.
    assert [row[0] for row in rows[1:]] == ["S1", "S2", "S3", "S6", "S4", "S5", "S7"]
    # "No coverage at this address." says its status in its first words.
    statuses = {row[0]: row[5].split(":")[0].removesuffix(" at this address.") for row in rows[1:]}
    assert statuses == {
        "S1": "Priced",
        "S2": "Priced",
        "S3": "Priced",
        "S4": "No coverage",
        "S5": "Priced",
        "S6": "Invalid",
        "S7": "Invalid",
    }
    priced = [row for row in rows[1:] if row[5] == "Priced"]
    assert all(row[6] > 0 and row[8] for row in priced), priced
    context.close()

    # And the email is in the test mailbox, once.
    job = BatchJob.objects.get(user=user)
    emails = wait_until(engine.sent_emails, timeout=30, what="the job's email")
    assert len(emails) == 1
    assert emails[0]["to"] == user.email
    assert emails[0]["subject"].startswith(
        "Bulk quote “Q3 sites.xlsx” finished: 4 quoted, 0 failed, 1 no coverage"
    )
    assert f"/bulk/{job.pk}/results.xlsx" in emails[0]["text"]


def test_the_mapping_step_for_a_file_with_no_header(chromium, live_server, tmp_path, monkeypatch):
    from playwright.sync_api import expect

    from config.celery import app

    send_task = app.send_task
    # No engine here: waking it is a no-op.
    monkeypatch.setattr(
        app,
        "send_task",
        lambda name, *a, **k: None if name == "engine.tasks.dispatch" else send_task(name, *a, **k),
    )
    user = UserFactory(email="grace@example.com")
    # No header, and the city before the street: the columns can't be guessed.
    sheet = tmp_path / "export.csv"
    sheet.write_bytes(
        "\ufeff1,El Cerrito,420 El Cerrito Plaza,CA,94530\r\n"
        "2,Boston,300 State Street,MA,02109\r\n"
        "3,Boston,300 State St.,MA,02109\r\n".encode()
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Spreadsheet").set_input_files(str(sheet))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_text("Choose the column for: City.")).to_be_visible()
    expect(page.get_by_label("The first row is data, not headers")).to_be_checked()
    page.screenshot(path=str(ARTIFACTS / "mapping.png"), full_page=True)

    page.get_by_label("Street address").select_option(
        label="C: Column C (e.g. 420 El Cerrito Plaza)"
    )
    page.get_by_label("City").select_option(label="B: Column B (e.g. El Cerrito)")
    page.get_by_role("button", name="Read the file with these columns").click()

    # The preview: two addresses, and the "St." row is the same as the "Street" row.
    expect(page.get_by_role("heading", name="Duplicates (1)")).to_be_visible()
    expect(page.locator("#estimate")).to_contain_text("2 addresses")
    page.get_by_role("button", name="Quote 2 addresses").click()
    expect(page.get_by_role("heading", name="export.csv")).to_be_visible()
    context.close()

    job = BatchJob.objects.get(user=user)
    rows = BatchQuote.objects.filter(batch_job=job).order_by("row_number")
    assert [(r.row_number, r.street_address, r.city) for r in rows] == [
        (1, "420 EL CERRITO PLZ", "EL CERRITO"),
        (2, "300 STATE ST", "BOSTON"),
    ]
