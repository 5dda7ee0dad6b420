"""The staff queue page in Chromium: the line, an action, and the htmx refresh."""

import pytest
from django.utils import timezone

from bulk.models import BatchQuote
from ops.models import Incident
from tests.bulk.conftest import BatchJobFactory
from tests.e2e.test_browser import ARTIFACTS
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def job_with_rows(rows: int, name: str):
    job = BatchJobFactory(total_count=rows, file_name=name)
    BatchQuote.objects.bulk_create(
        BatchQuote(
            batch_job=job,
            row_number=n + 2,
            street_address=f"{n} A St",
            city="X",
            state="CO",
            zip_code="80202",
        )
        for n in range(rows)
    )
    return job


def test_staff_move_a_job_to_the_front_and_see_an_incident_appear(
    chromium,
    live_server,
    transactional_db,
    broker,
):
    from playwright.sync_api import expect

    boss = UserFactory(is_staff=True, email="boss@example.com")
    job_with_rows(4, "first.csv")
    second = job_with_rows(2, "second.csv")
    page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(boss.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="The line").click()
    expect(page.get_by_role("heading", name="The line")).to_be_visible()
    rows = page.get_by_test_id("line").locator("tbody tr")
    expect(rows.nth(0)).to_contain_text("first.csv")
    expect(rows.nth(1)).to_contain_text("second.csv")

    page.locator(f'tr[data-job="{second.pk}"]').get_by_role("button", name="Front").click()
    expect(page.get_by_text(f"Job {second.pk} moved to the front of the line.")).to_be_visible()
    expect(rows.nth(0)).to_contain_text("second.csv")
    expect(rows.nth(0)).to_contain_text("front")
    assert second.events.get().actor == boss

    # Something goes wrong while the page is open: it shows up without a reload.
    Incident.objects.create(
        kind=Incident.Kind.LINE_STALLED,
        detail="Work has waited and no quote moved.",
        what_to_do="Start a momentum worker.",
        opened_at=timezone.now(),
    )
    expect(page.get_by_test_id("incidents")).to_contain_text("The line stalled", timeout=15_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)
