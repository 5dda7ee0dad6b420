"""A job's end and its email (DESIGN.md, invariant 4; docs/architecture.md, "Recording
a row"): a job whose rows are all terminal ends once, its email is claimed once and sent
after commit, and a claimed email no sender marked sent is handed to another sender.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote
from bulk.tasks import build_job_results, send_job_email

OPEN_ROW_STATUSES = (BatchQuote.Status.PENDING, BatchQuote.Status.PROCESSING)


def finish_job_if_done(*, job_id: int) -> bool:
    """End a job whose rows are all terminal and claim its email, once (caller's txn)."""
    if BatchQuote.objects.filter(batch_job_id=job_id, status__in=OPEN_ROW_STATUSES).exists():
        return False
    # Failed: nothing priced and something went wrong. Rows no carrier serves are an
    # answer, not a failure: a job of only those is complete (and raises no ops alert).
    all_failed = Q(success_count=0, failed_count__gt=F("no_coverage_count"))
    ended = BatchJob.objects.filter(
        pk=job_id,
        finished_at__isnull=True,
        status__in=[
            BatchJob.Status.PENDING,
            BatchJob.Status.PROCESSING,
            BatchJob.Status.CANCELLED,
        ],
    ).update(
        status=Case(
            When(status=BatchJob.Status.CANCELLED, then=Value(BatchJob.Status.CANCELLED)),
            When(all_failed, then=Value(BatchJob.Status.FAILED)),
            default=Value(BatchJob.Status.COMPLETE),
        ),
        finished_at=timezone.now(),
    )
    if not ended:
        return False
    claim_email(job_id=job_id)
    transaction.on_commit(lambda: build_job_results.delay(job_id))
    return True


def claim_email(*, job_id: int, again: bool = False) -> bool:
    """Claim a round of the job's email (once: only if it asked for one and none was
    claimed) and send it after commit. `again` (staff) claims a new round whatever was
    sent; a new round has a new Message-ID, so mail clients show it rather than fold it
    into the last one."""
    jobs = BatchJob.objects.filter(pk=job_id)
    if not again:
        jobs = jobs.filter(notify_email=True, notified_at__isnull=True)
    claimed = jobs.update(
        notified_at=timezone.now(),
        notification_started_at=None,
        notification_sent_at=None,
        notification_round=F("notification_round") + 1,
    )
    if claimed:
        send_job_email.delay_on_commit(job_id)
    return bool(claimed)


def finish_done_jobs() -> int:
    """Jobs whose rows are all terminal but that never ended (the sweeper's part)."""
    open_jobs = BatchJob.objects.filter(finished_at__isnull=True).exclude(
        Exists(BatchQuote.objects.filter(batch_job=OuterRef("pk"), status__in=OPEN_ROW_STATUSES))
    )
    finished = 0
    for job_id in open_jobs.values_list("pk", flat=True):
        with transaction.atomic():
            finished += finish_job_if_done(job_id=job_id)
    return finished


def emails_to_resend() -> QuerySet[BatchJob]:
    """Claimed emails no sender marked sent: never taken, or taken longer ago than
    BULK_EMAIL_RESEND_AFTER (its sender died or stalled; settings keep that above
    EMAIL_SEND_DEADLINE, so a live sender has given up by then)."""
    stale = timezone.now() - timedelta(seconds=settings.BULK_EMAIL_RESEND_AFTER)
    return BatchJob.objects.filter(notified_at__lt=stale, notification_sent_at__isnull=True).filter(
        Q(notification_started_at__isnull=True) | Q(notification_started_at__lt=stale)
    )


def resend_unsent_emails() -> int:
    """Hand claimed emails that never went out to another sender; how many."""
    unsent = list(emails_to_resend().values_list("pk", flat=True))
    for job_id in unsent:
        send_job_email.delay(job_id)
    return len(unsent)
