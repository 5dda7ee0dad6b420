"""Honest estimates: time left says why it does not count down, and is fresh after."""

import math
import re
import statistics
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from bulk import selectors
from bulk.services import staff
from quotes.models import MomentumHealth
from quotes.services.health import note_momentum_success
from tests.bulk.outcomes import start_row
from tests.harness import create_job
from tests.quotes.pace import measured_pace

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def take_momentum_down(*, since) -> None:
    MomentumHealth.objects.update_or_create(
        pk=1,
        defaults={
            "consecutive_failures": 50,
            "failing_since": since,
            "paused_until": timezone.now() + timedelta(seconds=60),
            "last_error": "Momentum answered 503",
        },
    )


def test_a_paused_jobs_time_left_says_paused_by_staff_and_is_fresh_after(user, staff_user):
    measured_pace(60)
    job = create_job(user=user, rows=5)
    before = selectors.job_progress(job=job)
    staff.pause_job(job=job, by=staff_user)
    job.refresh_from_db()
    later = timezone.now() + timedelta(minutes=30)
    paused = selectors.job_progress(job=job, now=later)
    assert (paused.held.text, paused.eta, paused.finish) == ("paused by staff", None, None)
    staff.unpause_job(job=job, by=staff_user)
    job.refresh_from_db()
    resumed = selectors.job_progress(job=job, now=later)
    assert resumed.held is None
    # Fresh: counted from the moment it is back, not from before the pause.
    assert resumed.eta == before.eta
    assert resumed.eta_at == later + before.eta


def test_while_momentum_is_down_time_left_says_since_when_and_does_not_count_down(user, settings):
    settings.TIME_ZONE = "UTC"
    measured_pace(60)
    job = create_job(user=user, rows=5)
    start_row(job, 2, seconds=10)
    down_at = timezone.now().replace(hour=14, minute=5)
    take_momentum_down(since=down_at)
    progress = selectors.job_progress(job=job)
    assert progress.held.text == "waiting for Momentum since 14:05 UTC"
    assert (progress.eta, progress.eta_at) == (None, None)
    note_momentum_success()
    back = selectors.job_progress(job=job)
    assert back.held is None
    # The row in flight has had its pace's worth: 4 rows more, 60 s each.
    assert back.eta.total_seconds() == pytest.approx(60 * 4 + 50, abs=2)


def test_the_job_page_shows_why_time_left_waits(signed_in_client, user):
    measured_pace(60)
    job = create_job(user=user, rows=3)
    take_momentum_down(since=timezone.now())
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert "Waiting for Momentum since " in page
    assert "estimated again when Momentum answers again" in page


def test_the_jobs_list_gives_the_job_pages_figure(signed_in_client, user):
    measured_pace(60)
    job = create_job(user=user, rows=3)
    listed = signed_in_client.get(reverse("bulk:jobs")).context["time_left"][job.pk]
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).context["progress"]
    assert listed.time_left == pytest.approx(page.eta, abs=timedelta(seconds=1))
    assert "About 3 min" in signed_in_client.get(reverse("bulk:jobs")).content.decode()


def test_the_demos_unmeasured_pace_fits_the_sandbox(settings):
    # `make run`: the sandbox prices in --delay MIN:MAX s (Procfile), polled every
    # MOMENTUM_POLL_INTERVAL s; a price is seen at the first poll after it.
    makefile = (ROOT / "Makefile").read_text()
    procfile = (ROOT / "Procfile").read_text()
    poll = float(re.search(r"MOMENTUM_POLL_INTERVAL:-([\d.]+)", makefile)[1])
    typical = float(re.search(r"MOMENTUM_TYPICAL_LATENCY:-([\d.]+)", makefile)[1])
    low, high = map(float, re.search(r"--delay ([\d.]+):([\d.]+)", procfile).groups())
    draws = [low + (high - low) * (n + 0.5) / 1000 for n in range(1000)]
    seen = statistics.fmean(math.ceil(draw / poll) * poll for draw in draws)
    settings.MOMENTUM_POLL_INTERVAL, settings.MOMENTUM_TYPICAL_LATENCY = poll, typical
    guess = selectors.upload_estimate(rows=1).pace.total_seconds()
    # The turn is the price seen plus the next quote's start (a fraction of a second).
    assert seen <= guess <= seen * 1.1
