"""The job page, its live fragment, the results table and the jobs list."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bulk import selectors
from bulk.models import BatchJob, BatchQuote
from quotes.models import Lead, MomentumHealth, Quote
from tests.bulk.conftest import BatchJobFactory
from tests.bulk.outcomes import fail_row, finish, price_row, start_row
from tests.harness import create_job
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def job_url(job, **query) -> str:
    url = reverse("bulk:job", args=[job.pk])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def row_numbers(response) -> list[int]:
    return [row.row_number for row in response.context["rows"]]


# --- Ownership ----------------------------------------------------------------------------


def test_another_users_job_page_answers_404(signed_in_client, other_user):
    job = create_job(user=other_user, rows=2)
    assert signed_in_client.get(job_url(job)).status_code == 404
    assert signed_in_client.get(job_url(job), **HX).status_code == 404


def test_the_job_page_needs_a_signed_in_user(client, user):
    job = create_job(user=user, rows=2)
    response = client.get(job_url(job))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


# --- Progress -----------------------------------------------------------------------------


def test_job_page_shows_the_counts_the_bar_and_the_row_in_flight(signed_in_client, user):
    job = create_job(user=user, rows=10)
    price_row(job, 2)
    price_row(job, 3)
    fail_row(job, 4)
    start_row(job, 5)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert 'aria-valuenow="30"' in page
    counted = [("Total", 10), ("Succeeded", 2), ("Failed", 0), ("No coverage", 1), ("Pending", 7)]
    for label, value in counted:
        assert f'{value}</div><div class="label">{label}</div>' in page
    assert "Row 5: 4 Job" in page
    assert "at Momentum for" in page


def test_eta_counts_this_jobs_rows_and_the_rows_ahead_of_them(user, other_user):
    mine = create_job(user=user, rows=10)
    create_job(user=other_user, rows=3)  # all 3 go before my last row
    create_job(user=other_user, rows=30)  # 10 of them do: one per turn
    BatchJobFactory(user=other_user, total_count=50, status=BatchJob.Status.COMPLETE)
    lead = Lead.objects.create(contact_name="Walk-in", email="walk@example.com")
    Quote.objects.create(lead=lead, street_address="1 A St", city="B", state="CO", zip_code="1")
    measured_pace(150)
    price_row(mine, 2, seconds=300)
    price_row(mine, 3, seconds=150)  # one more turn of 150 s
    progress = selectors.job_progress(job=mine)
    assert progress.latency == timedelta(seconds=150)
    assert progress.rows_ahead == 3 + 8 + 1
    assert progress.eta == timedelta(seconds=150 * (12 + 8))
    assert progress.eta_at > timezone.now()


def test_eta_is_the_typical_pace_before_one_is_measured(user, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 150
    settings.MOMENTUM_POLL_INTERVAL = 15
    job = create_job(user=user, rows=3)
    progress = selectors.job_progress(job=job)
    assert (progress.eta, progress.measured) == (timedelta(seconds=3 * 165), False)
    assert progress.remaining == 3


def test_eta_takes_off_the_time_the_row_in_flight_has_run(user):
    job = create_job(user=user, rows=3)
    price_row(job, 2, seconds=120)
    measured_pace(120)
    start_row(job, 3, seconds=30)
    progress = selectors.job_progress(job=job)
    assert progress.eta.total_seconds() == pytest.approx(120 * 2 - 30, abs=2)


def test_a_paused_jobs_page_says_so_instead_of_a_time(signed_in_client, user):
    job = create_job(user=user, rows=3, paused_at=timezone.now())
    price_row(job, 2, seconds=60)
    response = signed_in_client.get(job_url(job))
    assert response.context["progress"].eta is None
    page = response.content.decode()
    assert "Paused by staff: estimated again when the job is back in line." in page


def test_a_finished_job_has_no_eta(user):
    job = create_job(user=user, rows=2)
    price_row(job, 2)
    finish(job, BatchJob.Status.CANCELLED)
    progress = selectors.job_progress(job=job)
    assert (progress.eta, progress.rows_ahead, progress.remaining) == (None, None, 0)


# --- The fragment -------------------------------------------------------------------------


def test_a_running_job_polls_its_fragment(signed_in_client, user):
    job = create_job(user=user, rows=3)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert 'hx-trigger="every 3s"' in page
    assert f'hx-get="{job_url(job)}?seen=' in page


def test_the_fragment_is_the_progress_alone(signed_in_client, user):
    job = create_job(user=user, rows=3)
    response = signed_in_client.get(job_url(job, seen="x"), **HX)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="job-progress"')
    assert "<html" not in body
    assert 'hx-trigger="every 3s"' in body
    assert "HX-Request" in response["Vary"]


def test_the_fragment_resends_the_rows_only_when_a_row_changed(signed_in_client, user):
    job = create_job(user=user, rows=3)
    marker = selectors.live_marker(job=job)
    same = signed_in_client.get(job_url(job, seen=marker), **HX).content.decode()
    assert 'id="job-results"' not in same
    price_row(job, 2)
    changed = signed_in_client.get(job_url(job, seen=marker), **HX).content.decode()
    assert 'id="job-results" hx-swap-oob="true"' in changed
    assert "Lumen" in changed


def test_the_fragment_stops_when_the_job_ends(signed_in_client, user):
    job = create_job(user=user, rows=1)
    price_row(job, 2)
    finish(job)
    response = signed_in_client.get(job_url(job), **HX)
    assert response["HX-Refresh"] == "true"
    page = signed_in_client.get(job_url(job)).content.decode()
    assert "hx-trigger" not in page
    assert "hx-get" not in page


def test_a_cancelled_job_keeps_polling_until_its_row_in_flight_is_recorded(signed_in_client, user):
    job = create_job(user=user, rows=3)
    start_row(job, 2)
    BatchJob.objects.filter(pk=job.pk).update(status=BatchJob.Status.CANCELLED)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert 'hx-trigger="every 3s"' in page


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "fragment"])
def test_job_page_and_fragment_stay_within_ten_queries(
    signed_in_client, user, other_user, django_assert_max_num_queries, htmx
):
    job = create_job(user=user, rows=300)
    create_job(user=other_user, rows=5)
    for n in range(2, 40):
        price_row(job, n)
    start_row(job, 40)
    headers = HX if htmx else {}
    with django_assert_max_num_queries(10):
        response = signed_in_client.get(job_url(job, seen="stale"), **headers)
    assert response.status_code == 200


def test_a_finished_job_page_stays_within_ten_queries(
    signed_in_client, user, django_assert_max_num_queries
):
    job = create_job(user=user, rows=120)
    for n in range(2, 60):
        price_row(job, n, carrier=f"Carrier {n % 3}")
    finish(job, BatchJob.Status.CANCELLED)
    with django_assert_max_num_queries(10):
        response = signed_in_client.get(job_url(job, status="complete", page=2))
    assert response.status_code == 200


# --- The results table --------------------------------------------------------------------


def test_rows_are_paginated_fifty_a_page_in_spreadsheet_order(signed_in_client, user):
    job = BatchJobFactory(user=user, total_count=120)
    # Stored in reverse: the page must still be in row order.
    BatchQuote.objects.bulk_create(
        BatchQuote(
            batch_job=job,
            row_number=n,
            street_address=f"{n} Main St",
            city="Denver",
            state="CO",
            zip_code="80202",
        )
        for n in range(121, 1, -1)
    )
    first = signed_in_client.get(job_url(job))
    assert row_numbers(first) == list(range(2, 52))
    last = signed_in_client.get(job_url(job, page=3))
    assert row_numbers(last) == list(range(102, 122))
    assert "Page 3 of 3" in last.content.decode()


def test_rows_filter_by_status(signed_in_client, user):
    job = create_job(user=user, rows=6)
    fail_row(job, 3)
    fail_row(job, 6)
    price_row(job, 4)
    response = signed_in_client.get(job_url(job, status="failed"))
    assert row_numbers(response) == [3, 6]
    page = response.content.decode()
    assert '<option value="failed" selected>Failed (2)</option>' in page
    assert '<option value="pending">Pending (3)</option>' in page


def test_an_unknown_filter_or_page_shows_every_row(signed_in_client, user):
    job = create_job(user=user, rows=3)
    response = signed_in_client.get(job_url(job, status="nonsense", page="x"))
    assert response.status_code == 200
    assert row_numbers(response) == [2, 3, 4]


def test_the_table_shows_prices_carriers_and_errors(signed_in_client, user):
    job = create_job(user=user, rows=2)
    price_row(job, 2, mrc="1234.50", nrc="99.00", carrier="Zayo")
    fail_row(job, 3, error="Address not serviceable.")
    page = signed_in_client.get(job_url(job)).content.decode()
    assert "1,234.50" in page
    assert "Zayo" in page
    assert "Address not serviceable." in page


# --- Actions and summary ------------------------------------------------------------------


def test_a_running_job_offers_cancel_with_a_confirmation(signed_in_client, user):
    job = create_job(user=user, rows=2)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert reverse("bulk:job_action", args=[job.pk, "cancel"]) in page
    assert 'data-confirm="Cancel this job?' in page
    assert reverse("bulk:job_action", args=[job.pk, "resume"]) not in page


def test_a_cancelled_job_offers_resume_and_a_job_with_failures_offers_retry(signed_in_client, user):
    cancelled = create_job(user=user, rows=2)
    finish(cancelled, BatchJob.Status.CANCELLED)
    page = signed_in_client.get(job_url(cancelled)).content.decode()
    assert reverse("bulk:job_action", args=[cancelled.pk, "resume"]) in page
    assert reverse("bulk:job_action", args=[cancelled.pk, "cancel"]) not in page
    failed = create_job(user=user, rows=1)
    fail_row(failed, 2, error="Timed out.", failure=BatchQuote.Failure.TIMED_OUT)
    finish(failed, BatchJob.Status.FAILED)
    page = signed_in_client.get(job_url(failed)).content.decode()
    assert reverse("bulk:job_action", args=[failed.pk, "retry"]) in page
    assert "Retry 1 failed row</button>" in page
    assert "?rows=failed" in page


def test_a_job_whose_failed_rows_are_all_permanent_offers_no_retry(signed_in_client, user):
    job = create_job(user=user, rows=2)
    fail_row(job, 2)  # no coverage
    fail_row(job, 3, error="Not a valid address.", failure=BatchQuote.Failure.REJECTED)
    finish(job)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert reverse("bulk:job_action", args=[job.pk, "retry"]) not in page
    assert "?rows=failed" in page


def test_the_retry_button_counts_only_rows_a_retry_may_change(signed_in_client, user):
    job = create_job(user=user, rows=5)
    fail_row(job, 2)  # no coverage
    fail_row(job, 3, error="Not a valid address.", failure=BatchQuote.Failure.REJECTED)
    for row in (4, 5, 6):
        fail_row(job, row, error="Timed out.", failure=BatchQuote.Failure.TIMED_OUT)
    finish(job)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert "Retry 3 failed rows</button>" in page


def test_a_no_coverage_row_is_counted_and_named_no_coverage_not_failed(signed_in_client, user):
    job = create_job(user=user, rows=2)
    price_row(job, 2)
    fail_row(job, 3)  # no coverage
    finish(job)
    page = signed_in_client.get(job_url(job)).content.decode()
    assert 'data-testid="failed-count">0<' in page
    assert 'data-testid="no-coverage-count">1<' in page
    assert '<span class="badge failed no_coverage">No coverage</span>' in page
    assert '<span class="badge failed' not in page.replace("failed no_coverage", "")


def test_a_finished_job_shows_mrc_totals_and_the_carriers_chart(signed_in_client, user):
    job = create_job(user=user, rows=4)
    price_row(job, 2, mrc="100.00", carrier="Lumen")
    price_row(job, 3, mrc="200.00", carrier="Lumen")
    price_row(job, 4, mrc="300.01", carrier="Zayo")
    fail_row(job, 5)
    finish(job)
    response = signed_in_client.get(job_url(job))
    summary = response.context["summary"]
    assert str(summary.total_mrc) == "600.01"
    assert str(summary.average_mrc) == "200.00"
    assert [(c.name, c.count, c.width) for c in summary.carriers] == [
        ("Lumen", 2, 100),
        ("Zayo", 1, 50),
    ]
    page = response.content.decode()
    assert "$600.01" in page
    assert 'class="bar-chart"' in page


def test_a_running_job_has_no_summary(signed_in_client, user):
    job = create_job(user=user, rows=2)
    price_row(job, 2)
    response = signed_in_client.get(job_url(job))
    assert "summary" not in response.context
    assert 'class="bar-chart"' not in response.content.decode()


def test_many_carriers_are_folded_into_other(user):
    job = create_job(user=user, rows=12)
    for n in range(2, 14):
        price_row(job, n, carrier=f"Carrier {n:02d}")
    carriers = selectors.job_summary(job=job).carriers
    assert len(carriers) == selectors.CHART_CARRIERS
    assert carriers[-1].name == "Other carriers"
    assert sum(c.count for c in carriers) == 12


# --- Momentum health ----------------------------------------------------------------------


def test_pages_say_when_momentum_is_down(signed_in_client, user, settings):
    job = create_job(user=user, rows=1)
    MomentumHealth.objects.create(
        pk=1,
        consecutive_failures=settings.MOMENTUM_DOWN_AFTER,
        paused_until=timezone.now() + timedelta(minutes=1),
    )
    message = "Momentum is unavailable; work resumes automatically."
    assert message in signed_in_client.get(job_url(job)).content.decode()
    assert message in signed_in_client.get(reverse("bulk:jobs")).content.decode()


def test_a_configuration_error_is_shown_and_its_text_only_to_staff(
    client, user, staff_user, settings
):
    job = create_job(user=user, rows=1)
    MomentumHealth.objects.create(pk=1, config_error="401 Unauthorized: bad key")
    client.force_login(user)
    page = client.get(job_url(job)).content.decode()
    assert "Quoting is stopped until staff fix the Momentum connection." in page
    assert "bad key" not in page
    client.force_login(staff_user)
    assert "bad key" in client.get(reverse("bulk:jobs")).content.decode()


# --- The jobs list ------------------------------------------------------------------------


def test_jobs_list_shows_only_my_jobs_newest_first_25_a_page(signed_in_client, user, other_user):
    mine = [BatchJobFactory(user=user, file_name=f"mine-{n}.xlsx") for n in range(30)]
    BatchJobFactory(user=other_user, file_name="theirs.xlsx")
    first = signed_in_client.get(reverse("bulk:jobs"))
    assert [j.pk for j in first.context["page"]] == [j.pk for j in mine[::-1][:25]]
    assert b"theirs.xlsx" not in first.content
    second = signed_in_client.get(reverse("bulk:jobs") + "?page=2")
    assert [j.pk for j in second.context["page"]] == [j.pk for j in mine[::-1][25:]]


def test_jobs_list_filters_by_status(signed_in_client, user):
    BatchJobFactory(user=user, file_name="running.xlsx", status=BatchJob.Status.PROCESSING)
    BatchJobFactory(user=user, file_name="done.xlsx", status=BatchJob.Status.COMPLETE)
    response = signed_in_client.get(reverse("bulk:jobs") + "?status=complete")
    assert [j.file_name for j in response.context["page"]] == ["done.xlsx"]


def test_upload_page_links_to_the_jobs_list(signed_in_client):
    assert reverse("bulk:jobs") in signed_in_client.get(reverse("bulk:index")).content.decode()


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (60 * 12 + 5, "12 min"),
        (3600 * 3, "3 h"),
        (3600 * 3 + 1200, "3 h 20 min"),
        (86400 * 2 + 3600 * 4, "2 d 4 h"),
    ],
)
def test_durations_read_as_people_say_them(seconds, said):
    from bulk.templatetags.bulk_tags import duration

    assert duration(timedelta(seconds=seconds)) == said


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ((BatchQuote.Failure.NO_COVERAGE, BatchQuote.Failure.NO_COVERAGE), "complete"),
        ((BatchQuote.Failure.NO_COVERAGE, BatchQuote.Failure.REJECTED), "failed"),
    ],
)
def test_a_job_whose_rows_no_carrier_serves_is_complete_not_failed(user, outcomes, status):
    """No coverage is Momentum's answer, not a failure: only a job where something went
    wrong (and nothing was priced) ends Failed, and raises the all-failed ops alert."""
    from bulk.emails import job_email_subject
    from bulk.services.completion import finish_job_if_done

    job = create_job(user=user, rows=len(outcomes))
    for row, failure in enumerate(outcomes, start=2):
        fail_row(job, row, failure=failure)
    assert finish_job_if_done(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == status
    if status == "complete":
        assert (
            job_email_subject(job=job)
            == "Bulk quote “sites.xlsx” finished: 0 quoted, 0 failed, 2 no coverage"
        )
