"""No coverage is its own outcome, and a single quote is the same address as a bulk row
(issue 19). Real worker processes, the session's broker and the sandbox over HTTP."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.services import regenerate_api_token
from bulk.emails import build_job_email
from bulk.models import BatchQuote
from quotes.models import Quote
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job, job_finished, wait_until
from tests.quotes.factories import ask_for_a_quote

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]


def single_quote(user, *, street: str, city: str, state: str, zip_code: str, reuse: bool):
    return ask_for_a_quote(
        user, street=street, city=city, state=state, zip_code=zip_code, reuse=reuse
    )


def finished(quote: Quote) -> bool:
    quote.refresh_from_db()
    return quote.status in Quote.TERMINAL_STATUSES


def test_one_building_typed_two_ways_and_a_bulk_row_make_one_upstream_quote(engine, sandbox):
    engine.start()
    user = UserFactory()
    first = single_quote(
        user,
        street="420 El Cerrito Plaza",
        city="El Cerrito",
        state="CA",
        zip_code="94530",
        reuse=True,
    )
    wait_until(lambda: finished(first), timeout=120, what=engine.logs())
    assert first.status == Quote.Status.COMPLETE
    # Sent to Momentum in USPS form, as a bulk row is.
    assert (first.street_address, first.city) == ("420 EL CERRITO PLZ", "EL CERRITO")
    second = single_quote(
        user,
        street="420 el cerrito plz",
        city="el cerrito",
        state="CA",
        zip_code="94530",
        reuse=True,
    )
    wait_until(lambda: finished(second), timeout=30, what=engine.logs())
    assert sandbox.stats()["quotes_created"] == 1
    assert second.address_key == first.address_key
    assert second.taken_as == Quote.Taken.REUSED
    assert (second.mrc, second.nrc) == (first.mrc, first.nrc)

    job = create_job(
        user=user,
        rows=1,
        street_for=lambda n: "420 El Cerrito Plz.",
        city="EL CERRITO",
        state="CA",
        zip_for=lambda n: "94530",
    )
    wait_until(lambda: job_finished(job), timeout=30, what=engine.logs())
    row = job.rows.select_related("quote").get()
    assert sandbox.stats()["quotes_created"] == 1
    assert row.address_key == first.address_key
    assert (job.success_count, job.reused_count) == (1, 1)
    assert row.quote.taken_from_id == first.pk


def test_a_no_coverage_row_is_named_no_coverage_and_offers_no_retry(engine, sandbox):
    engine.start()
    user = UserFactory()
    # ZIP 999xx: the sandbox answers that no carrier serves the address.
    job = create_job(user=user, rows=2, zip_for=lambda n: "99901" if n else "80202")
    wait_until(lambda: job_finished(job), timeout=120, what=engine.logs())
    assert_counters_exact(job)
    assert (job.success_count, job.failed_count) == (1, 1)
    assert job.no_coverage_count == 1
    row = job.rows.get(zip_code="99901")
    assert (row.failure, row.outcome) == (BatchQuote.Failure.NO_COVERAGE, "No coverage")

    client = Client()
    client.force_login(user)
    page = client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert 'data-testid="no-coverage-count">1<' in page
    assert 'data-testid="failed-count">0<' in page
    assert ">No coverage</span>" in page
    assert reverse("bulk:job_action", args=[job.pk, "retry"]) not in page

    email = build_job_email(job=job)
    assert "1 no coverage" in email.subject
    assert "0 failed" in email.subject
    assert "No coverage: 1" in email.body
    assert "retry" not in email.body.lower()

    api = Client(headers={"Authorization": f"Bearer {regenerate_api_token(user=user)}"})
    detail = api.get(reverse("api:job_detail", args=[job.pk])).json()
    assert (detail["counts"]["no_coverage"], detail["retryable"]) == (1, 0)
    rows = api.get(reverse("api:job_results", args=[job.pk])).json()["items"]
    assert {r["zip_code"]: r["outcome"] for r in rows} == {
        "80202": "Priced",
        "99901": "No coverage",
    }
