"""The line model: the order the engine serves work in, and one expected finish per job."""

import re
import statistics
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.services import regenerate_api_token
from bulk import line as line_model
from bulk.line import expected_finish, expected_pace, held_back, load_line
from bulk.line.pace import PACE_CACHE_KEY, Pace
from bulk.models import BatchQuote
from bulk.selectors import upload_estimate
from quotes.models import Quote
from tests.bulk.outcomes import price_row, start_row
from tests.harness import create_job
from tests.quotes.factories import QuoteFactory
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db


def holding_single(*, held: float) -> Quote:
    """A single quote holding slot 0 for `held` seconds so far."""
    return QuoteFactory(
        status=Quote.Status.IN_FLIGHT,
        momentum_slot=0,
        claimed_at=timezone.now() - timedelta(seconds=held),
    )


def seconds(eta) -> float:
    return eta.time_left.total_seconds()


def entry(line, job):
    (found,) = [e for e in line.jobs if e.job.pk == job.pk]
    return found


# --- The pace -----------------------------------------------------------------------------


def test_the_pace_is_the_mean_turnover_of_the_slot_not_the_time_it_is_held():
    measured_pace(10, 20, 30, 20, 20, held=0.5)
    pace = expected_pace()
    assert (pace.per_quote, pace.measured, pace.samples) == (timedelta(seconds=20), True, 5)
    assert pace.spread == timedelta(seconds=statistics.stdev([10, 20, 30, 20, 20]))


def test_the_pace_leaves_out_turns_when_no_work_was_waiting():
    measured_pace(10, waiting=False)
    assert not expected_pace().measured


def test_the_pace_leaves_out_a_pause_far_longer_than_the_usual_turn():
    measured_pace(10, 10, 10, 10, 10, 10, 500)
    assert expected_pace().per_quote == timedelta(seconds=10)


def test_every_viewer_reads_one_measure_of_the_pace_for_a_few_seconds(
    settings, django_assert_num_queries
):
    settings.LINE_PACE_CACHE_SECONDS = 5
    cache.delete(PACE_CACHE_KEY)
    try:
        measured_pace(10)
        assert expected_pace().per_quote == timedelta(seconds=10)
        measured_pace(30, 30, 30, 30, 30, 30)  # the slot's later turns: slower
        with django_assert_num_queries(0 if settings.REDIS_URL else 1):  # the cache's own
            assert expected_pace().per_quote == timedelta(seconds=10)
        cache.delete(PACE_CACHE_KEY)  # as when the few seconds are up
        assert expected_pace().per_quote > timedelta(seconds=10)
    finally:
        cache.delete(PACE_CACHE_KEY)


def test_before_enough_turns_the_pace_is_the_typical_latency_plus_a_poll(settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 150
    settings.MOMENTUM_POLL_INTERVAL = 15
    pace = expected_pace()
    assert (pace.per_quote, pace.measured) == (timedelta(seconds=165), False)


def test_an_estimate_has_a_range_around_it_that_narrows_relative_to_its_length(settings):
    settings.MOMENTUM_POLL_INTERVAL = 1
    measured_pace(8, 12)
    pace = expected_pace()
    one, hundred = pace.margin(1), pace.margin(100)
    assert timedelta() < one < hundred
    assert hundred / (100 * pace.per_quote) < one / pace.per_quote


# --- The order ----------------------------------------------------------------------------


def test_quotes_holding_or_waiting_for_the_slot_go_before_every_row(user):
    measured_pace(100)
    job = create_job(user=user, rows=3)
    QuoteFactory()  # a single quote waits
    holder = holding_single(held=15)
    line = load_line()
    assert [(w.quote_id == holder.pk, w.holding, w.single) for w in line.slot_work] == [
        (True, True, True),
        (False, False, True),
    ]
    eta = entry(line, job).eta
    assert eta.ahead == 2
    assert seconds(eta) == pytest.approx(85 + 100 + 3 * 100, abs=1)


def test_waiting_single_quotes_are_served_before_bulk_quotes_sent_back_in_line(user):
    job = create_job(user=user, rows=2)
    sent_back = job.rows.get(row_number=2).quote
    Quote.objects.filter(pk=sent_back.pk).update(status=Quote.Status.PENDING)
    single = QuoteFactory()
    assert [w.quote_id for w in load_line().slot_work] == [single.pk, sent_back.pk]


def test_round_robin_puts_min_of_each_other_jobs_rows_ahead(user):
    measured_pace(10)
    a, b, c = (create_job(user=user, rows=rows) for rows in (5, 2, 10))
    line = load_line()
    assert [e.job for e in line.jobs] == [a, b, c]
    assert {e.job.pk: e.eta.ahead for e in line.jobs} == {
        a.pk: 2 + 5,
        b.pk: 2 + 2,
        c.pk: 5 + 2,
    }
    assert seconds(entry(line, c).eta) == 10 * (7 + 10)


def test_a_job_at_the_front_goes_first_and_one_at_the_back_last(user):
    measured_pace(10)
    normal = create_job(user=user, rows=3)
    front = create_job(user=user, rows=4, priority=1)
    back = create_job(user=user, rows=6, priority=-1)
    line = load_line()
    assert [e.job for e in line.jobs] == [front, normal, back]
    assert [e.eta.ahead for e in line.jobs] == [0, 4, 4 + 3]
    assert [seconds(e.eta) for e in line.jobs] == [40, 70, 130]


def test_paused_jobs_are_held_back(user):
    measured_pace(10)
    paused = create_job(user=user, rows=10, paused_at=timezone.now())
    running = create_job(user=user, rows=3)
    line = load_line()
    assert [e.job for e in line.jobs] == [running]
    assert entry(line, running).eta.ahead == 0
    assert line.eta_for(paused) is None
    assert [(e.job, e.rows_left, e.eta) for e in held_back()] == [(paused, 10, None)]


# --- A job's expected finish ----------------------------------------------------------------


def test_the_row_in_flight_counts_only_the_time_it_has_left(user):
    measured_pace(100)
    job = create_job(user=user, rows=3)
    start_row(job, 2, seconds=30)
    line = load_line()
    eta = entry(line, job).eta
    assert entry(line, job).rows_left == 2
    assert eta.ahead == 0
    assert seconds(eta) == pytest.approx(70 + 2 * 100, abs=1)
    assert eta.finish_at == line.now + eta.time_left


def test_a_row_in_flight_past_every_measured_turn_needs_one_more_poll(user, settings):
    settings.MOMENTUM_POLL_INTERVAL = 15
    measured_pace(100)
    job = create_job(user=user, rows=2)
    start_row(job, 2, seconds=500)
    (work,) = load_line().slot_work
    assert work.needs == timedelta(seconds=15)
    assert seconds(load_line().eta_for(job)) == pytest.approx(115, abs=1)


def test_a_row_in_flight_past_a_poll_step_has_the_next_step_ahead(user):
    # Prices are seen only at polls: turns of two poll steps or three (60 or 90 s). A row
    # 70 s in the slot was not seen at 60 s: it has 20 s left, not the pace (72 s) less 70.
    measured_pace(60, 60, 60, 90, 90)
    job = create_job(user=user, rows=1)
    start_row(job, 2, seconds=70)
    (work,) = load_line().slot_work
    assert work.needs.total_seconds() == pytest.approx(20, abs=0.5)


def test_a_job_with_no_row_to_open_is_done_when_its_row_in_flight_is(user):
    measured_pace(100)
    job = create_job(user=user, rows=2)
    price_row(job, 2, seconds=100)
    start_row(job, 3, seconds=30)
    QuoteFactory()  # a single quote waits: it goes after the row in flight
    line = load_line()
    assert line.jobs == []
    eta = line.eta_for(job)
    assert (eta.ahead, seconds(eta)) == (0, pytest.approx(70, abs=1))


def test_rows_waiting_on_another_jobs_quote_are_done_with_it(user, other_user):
    measured_pace(100)
    first = create_job(user=user, rows=1, street_for=lambda n: "1 Shared St")
    second = create_job(user=other_user, rows=1, street_for=lambda n: "1 Shared St")
    start_row(first, 2, seconds=40)
    live = first.rows.get().quote
    Quote.objects.filter(pk=live.pk).update(has_takers=True)
    taker = second.rows.get()
    Quote.objects.filter(pk=taker.quote_id).update(taken_from=live)
    BatchQuote.objects.filter(pk=taker.pk).update(status=BatchQuote.Status.PROCESSING)
    QuoteFactory()  # a single quote waits after the live one
    eta = load_line().eta_for(second)
    assert (eta.ahead, seconds(eta)) == (0, pytest.approx(60, abs=1))


def test_before_the_pace_is_measured_a_job_is_estimated_at_the_typical_pace(user, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 150
    settings.MOMENTUM_POLL_INTERVAL = 15
    create_job(user=user, rows=2)
    job = create_job(user=user, rows=3)
    eta = load_line().eta_for(job)
    assert (eta.ahead, eta.time_left) == (2, timedelta(seconds=165 * 5))
    assert eta.low < eta.time_left < eta.high


# --- The preview: rows not yet submitted ----------------------------------------------------


def test_the_preview_puts_new_rows_in_line_as_a_new_job(user):
    measured_pace(10)
    create_job(user=user, rows=3, priority=1)
    create_job(user=user, rows=10)
    create_job(user=user, rows=5, priority=-1)
    create_job(user=user, rows=7, paused_at=timezone.now())
    QuoteFactory()
    line = load_line()
    eta = expected_finish(line, rows=4)
    assert eta.ahead == 1 + 3 + 4
    assert eta.time_left == timedelta(seconds=10 * (8 + 4))
    estimate = upload_estimate(rows=4, now=line.now)
    assert (estimate.ahead, estimate.finish_at) == (eta.ahead, eta.finish_at)
    assert (estimate.pace, estimate.measured) == (timedelta(seconds=10), True)
    assert estimate.duration == eta.time_left
    assert estimate.low < estimate.duration < estimate.high


def test_the_preview_guesses_with_the_typical_pace_before_one_is_measured(user, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 150
    settings.MOMENTUM_POLL_INTERVAL = 15
    create_job(user=user, rows=2)
    estimate = upload_estimate(rows=3)
    assert (estimate.ahead, estimate.measured) == (2, False)
    assert estimate.duration == timedelta(seconds=165 * 5)


# --- Every page says the same ---------------------------------------------------------------

ETA_TEXT = re.compile(r'data-testid="eta">(About [^<]+<span class="muted">\(around [^)]+\)</span>)')


def test_the_job_page_the_queue_page_and_the_api_give_one_eta(
    user, other_user, staff_user, monkeypatch
):
    """Issue 17: a 3,000-row job said 5 h 4 min left on its page and 6 h 2 min on the
    queue page. Same moment, same job: the three must say the same."""
    big = create_job(user=user, rows=3000, file_name="big.xlsx")
    for number in range(2, 12):
        price_row(big, number, seconds=6)
    pace = Pace(
        per_quote=timedelta(seconds=6),
        measured=True,
        spread=timedelta(seconds=2),
        samples=10,
        turns=(6.0,) * 10,
    )
    monkeypatch.setattr(line_model, "expected_pace", lambda: pace)
    create_job(user=other_user, rows=400)  # round-robin: 400 of its rows go first
    create_job(user=other_user, rows=90, priority=1)  # at the front: all of them first
    create_job(user=other_user, rows=250, priority=-1)  # at the back: after
    create_job(user=other_user, rows=600, paused_at=timezone.now())  # paused: held back
    QuoteFactory()  # a single quote waits
    start_row(big, 12, seconds=2)
    now = timezone.now()
    monkeypatch.setattr(line_model, "read_clock", lambda: now)

    owner, staff = Client(), Client()
    owner.force_login(user)
    staff.force_login(staff_user)
    token = regenerate_api_token(user=user)
    page = owner.get(reverse("bulk:job", args=[big.pk]))
    queue = staff.get("/ops/queue/")
    api = Client(headers={"Authorization": f"Bearer {token}"}).get(f"/api/v1/jobs/{big.pk}")

    progress = page.context["progress"]
    (in_queue,) = [e for e in queue.context["line"].jobs if e.job.pk == big.pk]
    # The row in flight has 4 s left; then the single quote, the 90 front rows, 400
    # rows of the other normal job and this job's 2,989 rows, 6 s each.
    assert progress.eta.total_seconds() == pytest.approx(4 + 6 * (1 + 90 + 400 + 2989), abs=1)
    assert in_queue.eta.time_left == progress.eta
    assert in_queue.eta.finish_at == progress.eta_at
    assert api.json()["eta_seconds"] == int(progress.eta.total_seconds())
    assert api.json()["rows_ahead"] == progress.rows_ahead == in_queue.eta.ahead == 491
    shown = ETA_TEXT.findall(page.content.decode())
    row = queue.content.decode().split(f'<tr data-job="{big.pk}">')[1].split("</tr>")[0]
    assert shown == ETA_TEXT.findall(row)
    assert shown[0].startswith("About 5 h 48 min, between ")
    assert (
        api.json()["eta_low_seconds"] < api.json()["eta_seconds"] < api.json()["eta_high_seconds"]
    )
