"""The pages people keep open all day, in Chromium: no JavaScript error on load, on resize
or while the job page updates itself, and the jobs list and the staff queue page fit a
390 px phone (status and progress without scrolling sideways; no page overflow)."""

from __future__ import annotations

import pytest

from bulk.models import BatchJob
from tests.bulk.outcomes import price_row
from tests.e2e.test_layout import ARTIFACTS, PAGE_OVERFLOW, SCROLLS, signed_in_page
from tests.factories import UserFactory
from tests.harness import create_job

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PHONE = 390


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    return errors


def test_the_job_page_has_no_script_error_on_load_resize_and_updates(
    chromium, live_server, transactional_db
):
    from playwright.sync_api import expect

    user = UserFactory()
    job = create_job(user=user, rows=3, file_name="live.xlsx", status="processing")
    context, page, _ = signed_in_page(chromium, live_server, user, 1280)
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/bulk/{job.pk}/")
    page.wait_for_selector("#job-progress")
    for width in (390, 800, 1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(100)
    price_row(job, 2)
    # The fragment swaps in the new count (it polls every 3 s).
    expect(page.locator("#job-progress")).to_contain_text("33% done", timeout=15_000)
    page.set_viewport_size({"width": 700, "height": 900})
    page.wait_for_timeout(200)
    assert errors == []
    context.close()


def test_the_jobs_list_shows_status_and_progress_on_a_phone(chromium, live_server, db):
    user = UserFactory()
    for status in ("processing", "complete", "cancelled"):
        create_job(
            user=user, rows=3, file_name=f"A rather long {status} file name.xlsx", status=status
        )
    context, page, _ = signed_in_page(chromium, live_server, user, PHONE)
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/bulk/jobs/")
    page.wait_for_selector("table.jobs")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jobs-list-phone.png"), full_page=True)
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    assert not page.locator(".table-wrap").evaluate(SCROLLS)
    for cell in page.locator("td .badge").all() + page.locator("td.progress-cell").all():
        box = cell.bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE
    assert errors == []
    context.close()


def test_the_queue_page_fits_a_phone(chromium, live_server, db):
    staff = UserFactory(is_staff=True, email="a.very.long.staff.address@example.com")
    for n in range(3):
        job = create_job(
            user=UserFactory(email=f"owner.with.a.long.name.{n}@example.com"),
            rows=4,
            file_name=f"Quarterly sites for region {n}.xlsx",
        )
    BatchJob.objects.filter(pk=job.pk).update(priority=1)
    context, page, _ = signed_in_page(chromium, live_server, staff, PHONE)
    page.goto(f"{live_server.url}/ops/queue/")
    page.wait_for_selector('[data-testid="line"]')
    page.screenshot(path=str(ARTIFACTS / "queue-phone.png"), full_page=True)
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    context.close()
