"""Alerts and staff's hand on the line, through real workers, beat, broker and sandbox.

Each alert opens once (one email to ADMINS) and ends once (one more), with the ops check
running in beat beside the sweepers, as in production.
"""

import time

import pytest
from django.utils import timezone

from bulk.models import BatchJob
from bulk.services import staff
from ops.models import Incident
from quotes.models import Quote
from quotes.services.health import clear_configuration_error
from tests.factories import UserFactory
from tests.harness import create_job, job_finished, wait_until

pytestmark = [pytest.mark.engine, pytest.mark.timeout(240)]

Kind = Incident.Kind


@pytest.fixture
def alerting(engine):
    engine.env.update(ADMINS="Ops <ops@example.com>", ALERT_CHECK_INTERVAL="0.3")
    return engine


def alert_emails(engine, kind_title: str) -> list[str]:
    return [
        email["subject"]
        for email in engine.sent_emails()
        if email["to"] == "ops@example.com" and kind_title in email["subject"]
    ]


def incident_opened(kind):
    return Incident.objects.filter(kind=kind).first()


def incident_closed(kind):
    return Incident.objects.filter(kind=kind, closed_at__isnull=False).first()


def assert_once_and_ended_once(engine, kind, title: str) -> None:
    wait_until(lambda: len(alert_emails(engine, title)) >= 2, timeout=20, what="the closing email")
    assert Incident.objects.filter(kind=kind).count() == 1
    subjects = alert_emails(engine, title)
    # (The mail files of two worker processes are not in sending order.)
    assert sorted(s.split(":")[0] for s in subjects) == [
        "[Bulk Quotes] ALERT",
        "[Bulk Quotes] Resolved",
    ]


def test_a_line_with_no_momentum_worker_alerts_stalled_then_resolves(alerting, sandbox):
    alerting.env["MOMENTUM_QUOTE_TIMEOUT"] = "1.5"  # stalled after 3 s without a quote
    # Every worker but one on the `momentum` queue.
    alerting.worker("control", beat=True)
    alerting.worker("default,uploads", concurrency=2)
    job = create_job(user=UserFactory(), rows=2)
    wait_until(
        lambda: incident_opened(Kind.LINE_STALLED), timeout=60, what="the stall\n" + alerting.logs()
    )
    wait_until(lambda: alert_emails(alerting, "stalled"), timeout=20, what="the alert email")
    (subject,) = alert_emails(alerting, "stalled")
    assert subject == "[Bulk Quotes] ALERT: The line stalled"
    assert sandbox.stats()["quotes_created"] == 0

    alerting.worker("momentum")
    wait_until(lambda: job_finished(job), timeout=90, what="the job\n" + alerting.logs())
    wait_until(lambda: incident_closed(Kind.LINE_STALLED), timeout=20, what="the end")
    assert_once_and_ended_once(alerting, Kind.LINE_STALLED, "stalled")


def test_a_refused_key_alerts_then_resolves_when_staff_clear_it(alerting, sandbox):
    sandbox.config.api_key = "the-rotated-key"  # the workers still send the old one
    alerting.start()
    job = create_job(user=UserFactory(), rows=2)
    wait_until(
        lambda: incident_opened(Kind.MOMENTUM_KEY_REFUSED),
        timeout=60,
        what="the refused key\n" + alerting.logs(),
    )
    wait_until(lambda: alert_emails(alerting, "API key"), timeout=20, what="the alert email")
    assert not job.rows.filter(status="failed").exists()

    sandbox.config.api_key = "sandbox-key"
    clear_configuration_error()  # what the admin action does (it wakes the engine)
    wait_until(lambda: job_finished(job), timeout=90, what="the job\n" + alerting.logs())
    assert job.success_count == 2
    wait_until(lambda: incident_closed(Kind.MOMENTUM_KEY_REFUSED), timeout=20, what="the end")
    assert_once_and_ended_once(alerting, Kind.MOMENTUM_KEY_REFUSED, "API key")


def test_momentum_unreachable_past_the_threshold_alerts_then_resolves(alerting, sandbox):
    alerting.env["ALERT_MOMENTUM_DOWN_AFTER"] = "1.5"
    sandbox.config.rate_500 = 1.0
    alerting.start()
    job = create_job(user=UserFactory(), rows=1)
    wait_until(
        lambda: incident_opened(Kind.MOMENTUM_UNREACHABLE),
        timeout=60,
        what="the outage alert\n" + alerting.logs(),
    )
    sandbox.config.rate_500 = 0.0
    wait_until(lambda: job_finished(job), timeout=90, what="the job\n" + alerting.logs())
    wait_until(lambda: incident_closed(Kind.MOMENTUM_UNREACHABLE), timeout=20, what="the end")
    assert_once_and_ended_once(alerting, Kind.MOMENTUM_UNREACHABLE, "unreachable")


def test_a_job_with_every_row_failed_alerts_then_resolves_when_quotes_are_priced(alerting, sandbox):
    alerting.start()
    # Momentum refuses both addresses (no coverage would be an answer, and complete).
    doomed = create_job(user=UserFactory(), rows=2, street_for=lambda n: f"{n + 1} Invalid Way")
    wait_until(lambda: job_finished(doomed), timeout=60, what="the failing job")
    assert doomed.status == BatchJob.Status.FAILED
    wait_until(lambda: incident_opened(Kind.JOB_ALL_FAILED), timeout=20, what="the alert")
    assert Incident.objects.get(kind=Kind.JOB_ALL_FAILED).key == str(doomed.pk)
    fine = create_job(user=UserFactory(), rows=1)
    wait_until(lambda: job_finished(fine), timeout=60, what="the good job")
    wait_until(lambda: incident_closed(Kind.JOB_ALL_FAILED), timeout=20, what="the end")
    assert_once_and_ended_once(alerting, Kind.JOB_ALL_FAILED, "every row failed")


def test_a_slot_freed_by_staff_alerts_then_resolves(alerting, sandbox):
    # Momentum keeps the quote pending past our deadline and MOMENTUM_ABANDON_AFTER: the
    # engine keeps its slot; staff free it (Quote.abandoned_at) and the checks alert.
    alerting.env.update(MOMENTUM_QUOTE_TIMEOUT="1", MOMENTUM_ABANDON_AFTER="2")
    sandbox.config.delay_min = sandbox.config.delay_max = 60.0
    alerting.start()
    stuck = create_job(user=UserFactory(), rows=1)
    wait_until(
        lambda: Quote.objects.filter(status=Quote.Status.OVERDUE).exists(),
        timeout=60,
        what="the quote past our deadline\n" + alerting.logs(),
    )
    time.sleep(2)
    held = Quote.objects.get(batch_row__batch_job=stuck)
    assert held.status == Quote.Status.OVERDUE
    assert held.momentum_slot is not None
    # Staff are told the quote holds the slot past MOMENTUM_ABANDON_AFTER, and what to do.
    wait_until(
        lambda: incident_opened(Kind.SLOT_HELD_LONG),
        timeout=30,
        what="the slot-held alert\n" + alerting.logs(),
    )
    assert Incident.objects.get(kind=Kind.SLOT_HELD_LONG).key == str(held.pk)
    assert staff.free_momentum_slot(job=stuck, by=UserFactory(is_staff=True)) == 1
    wait_until(lambda: incident_closed(Kind.SLOT_HELD_LONG), timeout=20, what="its end")
    assert_once_and_ended_once(alerting, Kind.SLOT_HELD_LONG, "held the slot")
    wait_until(
        lambda: incident_opened(Kind.SLOT_ABANDONED),
        timeout=60,
        what="the abandonment alert\n" + alerting.logs(),
    )
    held.refresh_from_db()
    assert held.abandoned_at is not None
    assert Incident.objects.get(kind=Kind.SLOT_ABANDONED).key == str(held.pk)
    # Momentum takes the next quote: the line moves again.
    sandbox.config.delay_min = sandbox.config.delay_max = 0.1
    fine = create_job(user=UserFactory(), rows=1)
    wait_until(lambda: job_finished(fine), timeout=60, what="the next job")
    wait_until(lambda: incident_closed(Kind.SLOT_ABANDONED), timeout=20, what="the end")
    assert_once_and_ended_once(alerting, Kind.SLOT_ABANDONED, "abandonment")


# --- Staff's hand on the line -------------------------------------------------------------


def test_moving_a_job_to_the_front_makes_its_next_row_the_next_served(engine, sandbox):
    sandbox.config.delay_min = sandbox.config.delay_max = 0.4
    engine.start()
    owner, boss = UserFactory(), UserFactory(is_staff=True)
    a = create_job(user=owner, rows=6, file_name="a.csv")
    b = create_job(user=owner, rows=6, file_name="b.csv")
    late = create_job(user=owner, rows=3, file_name="late.csv")
    wait_until(
        lambda: Quote.objects.filter(status="complete").count() >= 2, timeout=60, what="rows"
    )
    staff.move_job_to_front(job=late, by=boss)
    moved_at = timezone.now()
    for job in (a, b, late):
        wait_until(lambda job=job: job_finished(job), timeout=120, what=f"{job}")
    served_after = list(
        Quote.objects.filter(source=Quote.Source.BULK, claimed_at__gt=moved_at)
        .order_by("claimed_at")
        .values_list("batch_row__batch_job_id", flat=True)
    )
    # Its remaining rows go first, one after the other, then the others resume.
    left = (
        late.total_count
        - Quote.objects.filter(batch_row__batch_job=late, claimed_at__lte=moved_at).count()
    )
    assert left > 0
    assert served_after[:left] == [late.pk] * left, served_after


def test_a_paused_jobs_rows_wait_while_others_run(engine, sandbox):
    boss = UserFactory(is_staff=True)
    held = create_job(user=UserFactory(), rows=3, file_name="held.csv")
    staff.pause_job(job=held, by=boss)
    other = create_job(user=UserFactory(), rows=3, file_name="other.csv")
    engine.start()
    wait_until(lambda: job_finished(other), timeout=90, what="the other job\n" + engine.logs())
    held.refresh_from_db()
    assert held.rows.filter(status="pending").count() == 3
    assert held.is_paused
    assert held.finished_at is None
    wait_until(
        lambda: any("paused by staff" in e["subject"] for e in engine.sent_emails()),
        timeout=20,
        what="the owner's notice",
    )

    staff.unpause_job(job=held, by=boss)
    wait_until(lambda: job_finished(held), timeout=90, what="the resumed job")
    assert held.success_count == 3
