"""The job page and the jobs list at desktop (1280 px) and phone (390 px) widths: the page
never scrolls sideways, wide tables scroll inside their card and say so, amounts stay in
their cards, and nothing is refused by the Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from bulk.models import BatchJob
from tests.bulk.outcomes import fail_row, price_row
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.harness import create_job

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDTHS = {"desktop": 1280, "phone": 390}

PAGE_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"
SCROLLS = "el => el.scrollWidth > el.clientWidth + 1"
HINT = "el => getComputedStyle(el, '::before').content"
SPILLS = "el => el.scrollWidth > el.clientWidth + 1"
LINES = "el => Math.round(el.offsetHeight / parseFloat(getComputedStyle(el).lineHeight))"


@pytest.fixture
def jobs_of(db):
    """A user with a finished job of big amounts and long values, and a few other jobs."""
    user = UserFactory(email="ada.lovelace.with.a.long.address@example.com")
    for status in ("processing", "cancelled", "failed"):
        create_job(user=user, rows=3, file_name=f"{status} sites.xlsx", status=status)
    job = create_job(user=user, rows=6, file_name="Quarterly sites for the whole region.xlsx")
    for n in range(2, 7):
        price_row(job, n, mrc="123456.78", nrc="98765.43", carrier="Consolidated Regional Fiber")
    fail_row(job, 7, error="No coverage at this address; Momentum suggests a site survey.")
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.COMPLETE, started_at=timezone.now(), finished_at=timezone.now()
    )
    return user, job


def signed_in_page(chromium, live_server, user, width: int):
    context = chromium.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/bulk/")
    return context, page, refused


@pytest.mark.parametrize("device", WIDTHS)
def test_the_job_page_fits_the_screen(chromium, live_server, jobs_of, device):
    user, job = jobs_of
    context, page, refused = signed_in_page(chromium, live_server, user, WIDTHS[device])
    page.goto(f"{live_server.url}/bulk/{job.pk}/")
    page.wait_for_selector("#job-summary")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"job-{device}.png"), full_page=True)

    assert page.evaluate(PAGE_OVERFLOW) <= 0
    for value in page.locator(".stat .value").all():
        assert not value.evaluate(SPILLS), value.inner_text()
    for amount in page.locator("#job-summary .stat .value").all():
        assert amount.evaluate(LINES) == 1, amount.inner_text()  # "$617,283.90", not split
    results = page.locator("#job-results .table-wrap")
    if device == "phone":
        # The NRC, carrier and error columns are off to the side: the table scrolls inside
        # its card, and says so.
        assert results.evaluate(SCROLLS)
        assert results.get_attribute("data-overflowing") == ""
        assert "Scroll sideways" in results.evaluate(HINT)
        card = page.locator("#job-results").bounding_box()
        assert card["x"] + card["width"] <= WIDTHS[device]
    else:
        assert not results.evaluate(SCROLLS)
        assert results.get_attribute("data-overflowing") is None
    assert refused == []
    context.close()


@pytest.mark.parametrize("device", WIDTHS)
def test_the_jobs_list_fits_the_screen(chromium, live_server, jobs_of, device):
    user, _ = jobs_of
    context, page, refused = signed_in_page(chromium, live_server, user, WIDTHS[device])
    page.goto(f"{live_server.url}/bulk/jobs/")
    page.wait_for_selector("table")
    page.screenshot(path=str(ARTIFACTS / f"jobs-{device}.png"), full_page=True)

    assert page.evaluate(PAGE_OVERFLOW) <= 0
    badges = page.locator("td .badge").all()
    assert len(badges) == 4
    for badge in badges:
        # Each status is whole (not cut or wrapped), even where the table scrolls.
        assert not badge.evaluate(SPILLS)
        assert badge.bounding_box()["height"] < 30
    # On a phone the counts columns give way: status and progress stay in view.
    assert not page.locator(".table-wrap").evaluate(SCROLLS)
    assert refused == []
    context.close()


def test_the_admin_and_the_api_docs_work_under_the_policy(chromium, live_server, jobs_of):
    _, job = jobs_of
    staff = UserFactory(is_staff=True, is_superuser=True)
    context, page, refused = signed_in_page(chromium, live_server, staff, 1280)
    for path in [
        "/admin/",
        "/admin/bulk/batchjob/",
        f"/admin/bulk/batchjob/{job.pk}/change/",
        "/admin/axes/accessattempt/",
    ]:
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info")
    assert refused == []
    context.close()
