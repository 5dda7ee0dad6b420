"""Each alert opens once and ends once, with one email to ADMINS for each."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from ops.models import Incident
from ops.services import run_checks
from quotes.models import MomentumHealth, Quote
from tests.bulk.conftest import BatchJobFactory
from tests.quotes.factories import QuoteFactory

pytestmark = pytest.mark.django_db

Kind = Incident.Kind


@pytest.fixture(autouse=True)
def admins(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.MOMENTUM_QUOTE_TIMEOUT = 300.0
    settings.ALERT_MOMENTUM_DOWN_AFTER = 600.0


def checks_at(now, times: int = 2) -> None:
    """Run the checks more than once: a second run must change nothing."""
    for _ in range(times):
        run_checks(now=now)


def subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


def health(**fields) -> MomentumHealth:
    MomentumHealth.objects.update_or_create(pk=1, defaults=fields)
    return MomentumHealth.objects.get(pk=1)


def test_a_refused_key_alerts_once_and_ends_once():
    health(config_error="Momentum refused the API key (HTTP 401): check MOMENTUM_API_KEY.")
    now = timezone.now()
    checks_at(now)
    (incident,) = Incident.objects.all()
    assert incident.kind == Kind.MOMENTUM_KEY_REFUSED
    assert incident.is_open
    assert subjects() == ["[Bulk Quotes] ALERT: Momentum refused our API key"]
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "MOMENTUM_API_KEY" in mail.outbox[0].body
    assert "What to do" in mail.outbox[0].body

    health(config_error="")
    checks_at(now + timedelta(seconds=30))
    incident.refresh_from_db()
    assert not incident.is_open
    assert subjects()[1:] == ["[Bulk Quotes] Resolved: Momentum refused our API key"]
    assert Incident.objects.count() == 1


def test_the_same_condition_again_later_is_a_new_incident():
    now = timezone.now()
    health(config_error="refused")
    checks_at(now)
    health(config_error="")
    checks_at(now + timedelta(seconds=30))
    health(config_error="refused again")
    checks_at(now + timedelta(seconds=60))
    assert Incident.objects.filter(kind=Kind.MOMENTUM_KEY_REFUSED).count() == 2
    assert len(mail.outbox) == 3


def test_momentum_unreachable_alerts_only_past_the_threshold():
    now = timezone.now()
    health(failing_since=now - timedelta(minutes=9), consecutive_failures=40, last_error="boom")
    checks_at(now)
    assert not Incident.objects.exists()
    checks_at(now + timedelta(minutes=2))
    (incident,) = Incident.objects.all()
    assert incident.kind == Kind.MOMENTUM_UNREACHABLE
    assert "40 failures in a row" in incident.detail
    assert "boom" in incident.detail
    # The next answer clears the failures (quotes.services.note_momentum_success).
    health(failing_since=None, consecutive_failures=0, last_error="")
    checks_at(now + timedelta(minutes=3))
    incident.refresh_from_db()
    assert not incident.is_open
    assert subjects() == [
        "[Bulk Quotes] ALERT: Momentum unreachable",
        "[Bulk Quotes] Resolved: Momentum unreachable",
    ]


def test_a_stalled_line_alerts_when_work_waited_twice_the_timeout_without_a_quote_moving():
    job = BatchJobFactory(total_count=1, status=BatchJob.Status.PENDING)
    BatchQuote.objects.create(
        batch_job=job, row_number=2, street_address="1 A St", city="X", state="CO", zip_code="1"
    )
    start = timezone.now()
    checks_at(start + timedelta(minutes=9))
    assert not Incident.objects.exists()
    checks_at(start + timedelta(minutes=11))
    (incident,) = Incident.objects.all()
    assert incident.kind == Kind.LINE_STALLED
    assert "1 rows of 1 jobs" in incident.detail
    QuoteFactory(status=Quote.Status.COMPLETE, submitted_at=start + timedelta(minutes=12))
    checks_at(start + timedelta(minutes=12, seconds=30))
    incident.refresh_from_db()
    assert not incident.is_open
    assert len(mail.outbox) == 2


def test_a_paused_job_does_not_count_as_a_stalled_line():
    job = BatchJobFactory(total_count=1, paused_at=timezone.now())
    BatchQuote.objects.create(
        batch_job=job, row_number=2, street_address="1 A St", city="X", state="CO", zip_code="1"
    )
    checks_at(timezone.now() + timedelta(hours=1))
    assert not Incident.objects.exists()


def test_a_refused_key_is_not_also_reported_as_a_stalled_line():
    QuoteFactory()  # a single quote waiting
    health(config_error="refused")
    checks_at(timezone.now() + timedelta(hours=1))
    assert list(Incident.objects.values_list("kind", flat=True)) == [Kind.MOMENTUM_KEY_REFUSED]


@pytest.mark.parametrize("ambiguous", [False, True])
def test_a_quote_holding_the_slot_past_abandon_after_alerts_until_it_lets_go(settings, ambiguous):
    settings.MOMENTUM_ABANDON_AFTER = 1800.0
    settings.MOMENTUM_QUOTE_TIMEOUT = 3600.0  # the line is not yet called stalled
    now = timezone.now()
    since = now - timedelta(seconds=1799)
    # An ambiguous submit holds the slot from its claim, with no Momentum id yet.
    held = QuoteFactory(
        status=Quote.Status.SUBMITTING if ambiguous else Quote.Status.IN_FLIGHT,
        momentum_slot=0,
        claimed_at=since,
        submitted_at=None if ambiguous else since,
        momentum_quote_id="" if ambiguous else "MQ-9",
    )
    checks_at(now)
    assert not Incident.objects.exists()
    checks_at(now + timedelta(seconds=2))
    (incident,) = Incident.objects.all()
    assert (incident.kind, incident.key) == (Kind.SLOT_HELD_LONG, str(held.pk))
    assert ("not yet given" if ambiguous else "MQ-9") in incident.detail
    assert "Free Momentum slot" in mail.outbox[0].body
    Quote.objects.filter(pk=held.pk).update(status=Quote.Status.COMPLETE, momentum_slot=None)
    checks_at(now + timedelta(seconds=10))
    incident.refresh_from_db()
    assert not incident.is_open
    assert len(mail.outbox) == 2


def test_an_abandoned_slot_alerts_once_and_ends_when_momentum_takes_a_new_quote():
    now = timezone.now()
    abandoned = QuoteFactory(
        status=Quote.Status.FAILED, abandoned_at=now, momentum_quote_id="MQ-1", completed_at=now
    )
    QuoteFactory()  # work still waits
    checks_at(now)
    (incident,) = Incident.objects.all()
    assert (incident.kind, incident.key) == (Kind.SLOT_ABANDONED, str(abandoned.pk))
    assert "MQ-1" in incident.detail
    QuoteFactory(
        status=Quote.Status.IN_FLIGHT, momentum_slot=0, submitted_at=now + timedelta(seconds=5)
    )
    checks_at(now + timedelta(seconds=30))
    incident.refresh_from_db()
    assert not incident.is_open
    # An event is alerted once: the same abandoned quote never opens a second incident.
    checks_at(now + timedelta(seconds=60))
    assert Incident.objects.count() == 1
    assert len(mail.outbox) == 2


def test_a_job_with_every_row_failed_alerts_once_and_ends_when_quotes_are_priced_again():
    now = timezone.now()
    job = BatchJobFactory(
        status=BatchJob.Status.FAILED,
        total_count=3,
        processed_count=3,
        failed_count=3,
        finished_at=now,
    )
    checks_at(now)
    (incident,) = Incident.objects.all()
    assert (incident.kind, incident.key) == (Kind.JOB_ALL_FAILED, str(job.pk))
    assert "all 3 rows failed" in incident.detail
    QuoteFactory(status=Quote.Status.COMPLETE, completed_at=now + timedelta(seconds=10))
    checks_at(now + timedelta(seconds=30))
    incident.refresh_from_db()
    assert not incident.is_open
    assert len(mail.outbox) == 2


def test_old_failed_jobs_are_not_alerted_on_a_new_deployment():
    BatchJobFactory(status=BatchJob.Status.FAILED, finished_at=timezone.now() - timedelta(days=3))
    checks_at(timezone.now())
    assert not Incident.objects.exists()


def test_an_email_the_server_refused_is_sent_by_the_next_check(settings, monkeypatch):
    from ops import services

    health(config_error="refused")
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("mail server down")

    monkeypatch.setattr(services, "mail_admins", refuse)
    checks_at(timezone.now(), times=1)
    assert Incident.objects.get().open_email_sent_at is None
    monkeypatch.undo()
    checks_at(timezone.now(), times=1)
    assert len(calls) == 1
    assert subjects() == ["[Bulk Quotes] ALERT: Momentum refused our API key"]
    assert Incident.objects.get().open_email_sent_at is not None
