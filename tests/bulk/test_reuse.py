"""Reuse and sharing in the bulk services (issue 12), without workers: what submission,
opening a row and recording a quote write."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from bulk import exports
from bulk.emails import build_job_email
from bulk.models import BatchJob, BatchQuote, StagedUpload
from bulk.services import jobs, rows, uploads
from engine import services as engine
from quotes.models import Lead, Quote
from quotes.outcomes import Kind, Outcome
from quotes.services import intake, lifecycle
from tests.bulk.conftest import upload, xlsx_bytes
from tests.factories import UserFactory
from tests.harness import assert_counters_exact, create_job

pytestmark = pytest.mark.django_db


def street(n: int) -> str:
    return f"{n + 1} Main Street"


def answered(*, number: int = 1, days_ago: float = 1, **fields) -> Quote:
    """A quote Momentum answered for `number` Main St, Denver, some days ago."""
    lead = Lead.objects.create(contact_name="Someone", email="someone@example.com")
    values = {
        "status": Quote.Status.COMPLETE,
        "outcome_kind": Kind.PRICED,
        "mrc": Decimal("321.00"),
        "nrc": Decimal("12.00"),
        "carrier": "Zayo",
        "momentum_quote_id": f"MQ-{number}",
        **fields,
    }
    return Quote.objects.create(
        lead=lead,
        street_address=f"{number} MAIN ST",
        city="Denver",
        state="CO",
        zip_code="80202",
        address_key=intake.address_key(
            street=f"{number} Main St", city="Denver", state="CO", zip_code="80202"
        ),
        completed_at=timezone.now() - timedelta(days=days_ago),
        **values,
    )


def test_submission_makes_one_lead_and_a_queued_quote_per_row():
    job = create_job(user=UserFactory(), rows=30, street_for=street)
    job.refresh_from_db()
    assert job.lead is not None
    assert Lead.objects.count() == 1
    quotes = Quote.objects.filter(batch_row__batch_job=job)
    assert quotes.count() == 30
    assert set(quotes.values_list("status", "lead_id")) == {(Quote.Status.QUEUED, job.lead_id)}
    assert not job.rows.filter(address_key="").exists()


def test_a_row_priced_within_the_window_is_recorded_at_submission():
    source = answered(number=1)
    job = create_job(user=UserFactory(), rows=2, street_for=street)
    job.refresh_from_db()
    assert_counters_exact(job)
    assert (job.success_count, job.reused_count) == (1, 1)
    row = job.rows.select_related("quote").get(row_number=2)
    assert row.status == BatchQuote.Status.COMPLETE
    assert (row.quote.mrc, row.quote.carrier, row.quote.taken_from) == (
        source.mrc,
        "Zayo",
        source,
    )
    assert row.quote.provenance == f"reused from quote MQ-1 of {source.completed_at.date()}"
    assert job.rows.get(row_number=3).status == BatchQuote.Status.PENDING


def test_a_job_whose_every_row_is_reused_finishes_at_submission_and_claims_its_email():
    answered(number=1)
    answered(number=2)
    job = create_job(user=UserFactory(), rows=2, street_for=street)
    job.refresh_from_db()
    assert job.status == BatchJob.Status.COMPLETE
    assert job.notified_at is not None
    assert job.taken_summary == "2 rows reused from recent quotes"


@pytest.mark.parametrize(
    ("days_ago", "reuse_days", "fields"),
    [
        (40, 30, {}),  # outside the window
        (1, 0, {}),  # reuse off
        (1, 30, {"status": Quote.Status.FAILED, "outcome_kind": Kind.TIMED_OUT}),
        (1, 30, {"status": Quote.Status.FAILED, "outcome_kind": Kind.UNAVAILABLE}),
        # A late price for a quote that had timed out.
        (1, 30, {"status": Quote.Status.FAILED, "outcome_kind": Kind.TIMED_OUT, "mrc": 1}),
        (1, 30, {"speed_mbps": 500}),
    ],
)
def test_what_is_not_reused(days_ago, reuse_days, fields):
    answered(number=1, days_ago=days_ago, **fields)
    job = create_job(user=UserFactory(), rows=1, street_for=street, reuse_days=reuse_days)
    job.refresh_from_db()
    assert job.reused_count == 0
    assert job.rows.get().status == BatchQuote.Status.PENDING


def test_no_coverage_is_reused_as_a_permanent_failure():
    answered(
        number=1,
        status=Quote.Status.FAILED,
        outcome_kind=Kind.REJECTED,
        mrc=None,
        error_message="No coverage at this address.",
    )
    job = create_job(user=UserFactory(), rows=1, street_for=street)
    row = job.rows.get()
    assert row.status == BatchQuote.Status.FAILED
    assert row.failure == BatchQuote.Failure.REJECTED
    assert row.error_message == "No coverage at this address."


def test_rows_of_two_jobs_waiting_on_one_quote_are_recorded_with_each_jobs_counters():
    one = create_job(user=UserFactory(), rows=2, street_for=street)
    quote = engine.dispatch_next()  # one's first row takes the slot
    assert quote is not None
    other = create_job(user=UserFactory(), rows=1, street_for=street)
    third = create_job(user=UserFactory(), rows=1, street_for=street)
    for job in (other, third):
        row = job.rows.select_related("quote").get()
        assert row.status == BatchQuote.Status.PROCESSING
        assert row.quote.taken_from == quote
    outcome = Outcome(status=Quote.Status.COMPLETE, mrc="99.50", nrc="0.00", carrier="Lumen")
    assert engine.record_outcome(quote_id=quote.pk, outcome=outcome)
    for job in (one, other, third):
        job.refresh_from_db()
        assert_counters_exact(job)
    assert (other.success_count, other.shared_count) == (1, 1)
    assert (third.status, third.shared_count) == (BatchJob.Status.COMPLETE, 1)
    assert one.shared_count == 0
    assert other.rows.get().quote.mrc == Decimal("99.50")


def test_a_pending_row_follows_a_quote_for_its_address_when_that_quote_takes_the_slot():
    first = create_job(user=UserFactory(), rows=1, street_for=street)
    second = create_job(user=UserFactory(), rows=1, street_for=street, reuse_days=0)
    assert second.rows.get().status == BatchQuote.Status.PENDING
    quote = engine.dispatch_next()
    assert quote.batch_row.batch_job == first
    row = second.rows.select_related("quote").get()
    assert row.status == BatchQuote.Status.PROCESSING
    assert row.quote.taken_from == quote
    quote.refresh_from_db()
    assert quote.has_takers


def test_a_quote_nobody_waits_on_is_recorded_without_looking_for_takers(monkeypatch):
    job = create_job(user=UserFactory(), rows=1, street_for=street)
    quote = engine.dispatch_next()
    assert not Quote.objects.get(pk=quote.pk).has_takers

    def no_lookup(**kwargs):
        raise AssertionError("looked for takers of a quote nobody shares")

    monkeypatch.setattr(rows, "record_takers", no_lookup)
    rows.record_row_result(quote_id=quote.pk, outcome=Outcome.timed_out())
    assert job.rows.get().status == BatchQuote.Status.FAILED


def test_a_shared_timeout_fails_every_waiting_row_as_timed_out():
    create_job(user=UserFactory(), rows=1, street_for=street)
    quote = engine.dispatch_next()
    other = create_job(user=UserFactory(), rows=1, street_for=street)
    rows.record_row_result(quote_id=quote.pk, outcome=Outcome.timed_out())
    row = other.rows.select_related("quote").get()
    assert row.failure == BatchQuote.Failure.TIMED_OUT
    assert row.quote.outcome_kind == Kind.TIMED_OUT


def test_cancelling_a_job_keeps_the_quote_another_job_waits_on():
    one = create_job(user=UserFactory(), rows=1, street_for=street)
    job_quote = one.rows.get().quote
    # The row is open and its quote waits for the slot (say Momentum is paused).
    BatchQuote.objects.filter(pk=one.rows.get().pk).update(status=BatchQuote.Status.PROCESSING)
    Quote.objects.filter(pk=job_quote.pk).update(status=Quote.Status.PENDING)
    other = create_job(user=UserFactory(), rows=1, street_for=street)
    assert other.rows.get().quote.taken_from == job_quote
    job_quote.refresh_from_db()
    assert job_quote.has_takers
    jobs.cancel_job(job=one, by=one.user)
    job_quote.refresh_from_db()
    assert job_quote.status == Quote.Status.PENDING
    assert other.rows.get().status == BatchQuote.Status.PROCESSING


def test_the_sweeper_settles_rows_left_waiting_on_a_quote_that_ended_another_way():
    create_job(user=UserFactory(), rows=1, street_for=street)
    quote = engine.dispatch_next()
    other = create_job(user=UserFactory(), rows=1, street_for=street)
    # A staff repair ended the quote without recording it.
    lifecycle.finish_quote(
        quote_id=quote.pk, outcome=Outcome.failed("Stopped by staff.", kind=Kind.UNAVAILABLE)
    )
    assert other.rows.get().status == BatchQuote.Status.PROCESSING
    assert engine.sweep_jobs()["stranded_settled"] == 1
    other.refresh_from_db()
    assert_counters_exact(other)
    assert other.rows.get().failure == BatchQuote.Failure.UNAVAILABLE


def test_a_rows_turn_reuses_a_price_that_arrived_after_submission():
    job = create_job(user=UserFactory(), rows=2, street_for=street)
    answered(number=1)  # priced by someone else meanwhile
    quote = engine.dispatch_next()
    job.refresh_from_db()
    assert job.reused_count == 1
    assert quote.batch_row.row_number == 3  # the next row took the slot


def test_a_single_quote_reuses_a_recent_price_only_when_allowed():
    source = answered(number=1)
    fields = {
        "user": None,
        "street_address": "1 Main St.",
        "city": "denver",
        "state": "CO",
        "zip_code": "80202",
        "speed_mbps": 1000,
        "term_months": 36,
        "contact_name": "Visitor",
        "email": "v@example.com",
        "phone": "",
        "company": "",
    }
    reused = intake.request_quote(**fields, allow_reuse=True)
    assert (reused.status, reused.mrc, reused.taken_from) == (
        Quote.Status.COMPLETE,
        source.mrc,
        source,
    )
    fresh = intake.request_quote(**fields, allow_reuse=False)
    assert fresh.status == Quote.Status.PENDING
    assert fresh.taken_from is None


# --- What people see -----------------------------------------------------------------------


def post_sites(client, rows, **fields):
    form = {"speed_mbps": 1000, "term_months": 36, "notify_email": "on"} | fields
    data = xlsx_bytes([["Street Address", "City", "State", "Zip"], *rows])
    return client.post(reverse("bulk:index"), {**form, "file": upload(data)})


SITES = [["1 Main Street", "Denver", "CO", "80202"], ["2 Main Street", "Denver", "CO", "80202"]]


def test_the_upload_form_keeps_the_reuse_window(signed_in_client):
    assert signed_in_client.get(reverse("bulk:index")).context["form"]["reuse_days"].value() == 30
    post_sites(signed_in_client, SITES, reuse_days=7)
    staged = StagedUpload.objects.get()
    assert staged.reuse_days == 7
    job = uploads.submit_staged_upload(staged=staged, user=staged.user)
    assert job.reuse_days == 7


def test_a_negative_reuse_window_is_refused(signed_in_client):
    response = post_sites(signed_in_client, SITES, reuse_days=-1)
    assert response.status_code == 200
    assert "reuse_days" in response.context["form"].errors
    assert not StagedUpload.objects.exists()


def test_the_preview_says_how_many_addresses_will_be_reused(signed_in_client):
    answered(number=2)
    post_sites(signed_in_client, SITES)
    staged = StagedUpload.objects.get()
    response = signed_in_client.get(reverse("bulk:preview", args=[staged.pk]))
    assert response.context["reusable"] == 1
    assert "1 of these addresses was priced in the last 30 days and will be reused" in (
        response.content.decode()
    )


def test_the_job_page_results_and_email_say_how_many_rows_were_reused(signed_in_client, user):
    answered(number=1)
    answered(number=2)
    job = create_job(user=user, rows=2, street_for=street)
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert "2 rows reused from recent quotes" in page
    lines = list(exports.result_rows(job=job))
    reference = lines[0].index("Quote reference")
    source = lines[0].index("Price source")
    assert [line[reference] for line in lines[1:]] == ["MQ-1", "MQ-2"]
    assert all(line[source].startswith("reused from a quote of ") for line in lines[1:])
    email = build_job_email(job=BatchJob.objects.get(pk=job.pk))
    assert "2 rows reused from recent quotes" in email.body


def test_the_api_takes_a_reuse_window_and_counts_reused_rows(user):
    from django.test import Client

    answered(number=1)
    client = Client()
    client.force_login(user)
    data = xlsx_bytes([["Street Address", "City", "State", "Zip"], *SITES])
    response = client.post("/api/v1/uploads", {"file": upload(data), "reuse_days": 10})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["reuse_days"], body["reusable_count"]) == (10, 1)
    response = client.post(f"/api/v1/uploads/{body['id']}/submit")
    assert response.json()["counts"]["reused"] == 1
    bad = client.post("/api/v1/uploads", {"file": upload(data), "reuse_days": 400})
    assert bad.status_code == 400


def test_a_retried_row_asks_momentum_again_instead_of_taking_back_its_answer():
    answered(
        number=1,
        status=Quote.Status.FAILED,
        outcome_kind=Kind.REJECTED,
        mrc=None,
        error_message="No coverage at this address.",
    )
    job = create_job(user=UserFactory(), rows=1, street_for=street)
    assert job.rows.get().failure == BatchQuote.Failure.REJECTED
    jobs.retry_failed_rows(job=job, by=UserFactory(is_staff=True), include_permanent=True)
    quote = engine.dispatch_next()
    assert quote is not None
    assert quote.batch_row.batch_job_id == job.pk
    assert quote.taken_from_id is None
