"""Need by: a job that would otherwise miss it goes ahead of round-robin, least slack
first, and a job without one is still served one turn in every LINE_ROUND_ROBIN_EVERY."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bulk.emails import build_owner_notice
from bulk.line import load_line
from bulk.models import BatchJob, BatchQuote
from bulk.selectors import upload_estimate
from bulk.services.need_by import warn_late_jobs
from bulk.services.rows import _next_pending_row
from bulk.templatetags.bulk_tags import need_by_text
from config.time_tags import clock
from tests.bulk.outcomes import price_row
from tests.harness import create_job
from tests.quotes.pace import measured_pace

pytestmark = pytest.mark.django_db


def serve_turns(turns: int) -> list[int]:
    """The jobs the engine's order serves, turn by turn (each row priced at once)."""
    served = []
    for _ in range(turns):
        job, row, _ = _next_pending_row()
        if row is None:
            break
        now = timezone.now()
        price_row(job, row.row_number)
        BatchQuote.objects.filter(pk=row.pk).update(started_at=now)
        BatchJob.objects.filter(pk=job.pk).update(last_served_at=now)
        served.append(job.pk)
    return served


def test_a_job_that_would_miss_its_need_by_goes_ahead_without_starving_the_other(
    user, other_user, settings
):
    settings.LINE_ROUND_ROBIN_EVERY = 3
    measured_pace(60)
    big = create_job(user=other_user, rows=30)
    serve_turns(2)  # the big job is running
    # 5 rows alone take 5 min; round-robin with the big job, 10 min: it needs to go ahead.
    small = create_job(user=user, rows=5, need_by=timezone.now() + timedelta(minutes=8))
    assert small.pk in load_line().urgent
    served = serve_turns(9)
    assert served.count(small.pk) == 5
    assert served.index(big.pk) < 3  # never more than 2 turns in a row go to need-by
    last_small = max(n for n, pk in enumerate(served) if pk == small.pk)
    assert last_small <= 7  # done within 8 turns (8 min), not 10 as in round-robin
    assert all(big.pk in served[n : n + 3] for n in range(0, last_small - 2))


def test_a_job_whose_need_by_round_robin_meets_is_not_put_ahead(user, other_user):
    measured_pace(60)
    create_job(user=other_user, rows=30)
    serve_turns(1)
    create_job(user=user, rows=5, need_by=timezone.now() + timedelta(hours=2))
    assert load_line().urgent == {}


def test_the_preview_says_how_many_rows_a_need_by_gets(user, other_user):
    measured_pace(60)
    create_job(user=other_user, rows=30)
    need_by = timezone.now() + timedelta(minutes=5, seconds=30)
    estimate = upload_estimate(rows=120, need_by=need_by)
    assert estimate.need_by == need_by
    assert 0 < estimate.rows_by_need_by < 120
    assert upload_estimate(rows=3, need_by=need_by).rows_by_need_by == 3
    # As the preview says it (the completion email words it the same way).
    said = need_by_text(estimate)
    assert said.startswith(f"{estimate.rows_by_need_by} of 120 rows by {clock(need_by)}")
    assert said.endswith(f", the rest by {clock(estimate.finish_at)}.")
    assert need_by_text(upload_estimate(rows=3, need_by=need_by)).startswith("All 3 rows by ")


@pytest.fixture
def notices(monkeypatch):
    """What the line enqueues to tell owners, instead of sending it to a broker."""
    from bulk import tasks as bulk_tasks

    sent = []
    monkeypatch.setattr(bulk_tasks.send_owner_notice, "delay_on_commit", lambda *a: sent.append(a))
    return sent


def test_a_job_predicted_to_miss_its_need_by_is_told_once(user, notices):
    measured_pace(60)
    late = create_job(user=user, rows=10, need_by=timezone.now() + timedelta(minutes=3))
    create_job(user=user, rows=2, need_by=timezone.now() + timedelta(hours=1))
    assert warn_late_jobs() == [late.pk]
    assert warn_late_jobs() == []
    ((job_id, action, _, note),) = notices
    assert (job_id, action) == (late.pk, "need_by")
    assert "now expected done around" in note


def test_the_need_by_notice_goes_to_the_owner_and_admins(user, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    job = create_job(user=user, rows=3, need_by=timezone.now())
    message = build_owner_notice(job=job, action="need_by", by_name="Staff", note="Soon.")
    assert (message.to, message.cc) == ([user.email], ["ops@example.com"])
    assert "is expected to miss its need-by." in message.body
