"""The emails about a bulk job: when it ends, and when staff act on it."""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from bulk.line import rows_by_need_by_text
from bulk.models import BatchJob, BatchQuote, JobSource
from bulk.selectors import retryable_count
from config.time_tags import duration

logger = logging.getLogger(__name__)


class EmailNotSent(Exception):
    """The mail server refused or could not be reached; the send is retried."""


def job_email_context(*, job: BatchJob) -> dict:
    started = job.started_at or job.created_at
    finished = job.finished_at or timezone.now()
    return {
        "job": job,
        "source": JobSource.objects.filter(batch_job=job).defer("rows").first(),
        # "46 s", "12 min", "1 h 5 min": a short job is not "0 minutes".
        "took": duration(finished - started),
        "retryable": retryable_count(job=job),
        **line_figures(job=job, finished=finished),
        "job_url": settings.PORTAL_URL + reverse("bulk:job", args=[job.pk]),
        "results_url": settings.PORTAL_URL + reverse("bulk:export", args=[job.pk, "xlsx"]),
    }


def line_figures(*, job: BatchJob, finished) -> dict:
    """What the line promised against what happened: the time from submission to the end
    against the estimate at submission, and how many rows met the need-by."""
    figures = {"since_submit": duration(finished - job.created_at), "estimated": ""}
    if job.estimate_at_submit is not None:
        figures["estimated"] = duration(job.estimate_at_submit)
    if job.need_by is not None:
        answered = (BatchQuote.Status.COMPLETE, BatchQuote.Status.FAILED)
        by = BatchQuote.objects.filter(
            batch_job=job, status__in=answered, finished_at__lte=job.need_by
        ).count()
        rows = job.total_count - job.cancelled_count
        figures["need_by_text"] = rows_by_need_by_text(rows=rows, by=by, need_by=job.need_by)
    return figures


def job_email_subject(*, job: BatchJob) -> str:
    verb = {
        BatchJob.Status.COMPLETE: "finished",
        BatchJob.Status.FAILED: "finished with no prices",
        BatchJob.Status.CANCELLED: "cancelled",
    }.get(job.status, "ended")
    return (
        f"Bulk quote “{job.file_name}” {verb}: {job.success_count} quoted, "
        f"{job.other_failed_count} failed"
        + (f", {job.no_coverage_count} no coverage" if job.no_coverage_count else "")
        + (f", {job.cancelled_count} cancelled" if job.cancelled_count else "")
    )


def job_email_message_id(*, job: BatchJob) -> str:
    """The same for every send of one round of a job's email, so that the rare second
    copy (a sender that died between sending and marking it sent) folds into the first
    in mail clients."""
    domain = urlsplit(settings.PORTAL_URL).hostname or "localhost"
    return f"<bulk-job-{job.pk}-round-{job.notification_round}@{domain}>"


def build_job_email(*, job: BatchJob) -> EmailMultiAlternatives:
    context = job_email_context(job=job)
    message = EmailMultiAlternatives(
        subject=job_email_subject(job=job),
        body=render_to_string("bulk/email/job_finished.txt", context),
        to=[job.user.email],
        headers={"Message-ID": job_email_message_id(job=job)},
    )
    message.attach_alternative(
        render_to_string("bulk/email/job_finished.html", context), "text/html"
    )
    return message


def send_job_finished_email(*, job: BatchJob) -> bool:
    """Send a claimed email at least once and almost never twice; True if this call sent it.

    Take the send (a guarded update of `notification_started_at`), send (config.mail
    abandons a send that outlives EMAIL_SEND_DEADLINE, shorter than the resend delay, however
    the server drips its replies), then mark it sent. A sender that dies or stalls leaves
    the send taken but unmarked; after BULK_EMAIL_RESEND_AFTER the sweeper gives it to
    another. The one window for a second copy is a death between the server accepting
    the message and the mark: that copy has the same Message-ID.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BULK_EMAIL_RESEND_AFTER)
    taken = (
        BatchJob.objects.filter(
            pk=job.pk, notified_at__isnull=False, notification_sent_at__isnull=True
        )
        .filter(Q(notification_started_at__isnull=True) | Q(notification_started_at__lt=stale))
        .update(notification_started_at=now)
    )
    if not taken:
        return False
    job.refresh_from_db()
    mine = BatchJob.objects.filter(pk=job.pk, notification_started_at=now)
    try:
        build_job_email(job=job).send()
    except Exception as error:
        mine.update(notification_started_at=None)
        logger.warning("email for job %s not sent: %s", job.pk, error)
        raise EmailNotSent(str(error)) from error
    mine.update(notification_sent_at=timezone.now())
    return True


# --- Telling the owner what staff did -----------------------------------------------------

# What the owner is told, by action: the subject's verb, and what it means for them.
OWNER_NOTICES = {
    "cancel": (
        "was cancelled by staff",
        "Rows not yet quoted were cancelled; the address being quoted at the time still "
        "gets its price. You can resume the job from its page.",
    ),
    "force_finish": (
        "was stopped by staff",
        "Rows not yet quoted were cancelled and the job is finished. Prices already "
        "found are in the results.",
    ),
    "pause": (
        "was paused by staff",
        "No more of its rows are quoted until staff resume it. Nothing is lost: rows "
        "waiting for a price keep their place.",
    ),
    "resume": (
        "was resumed by staff",
        "Its remaining rows are back in line and are being quoted.",
    ),
    # Sent by the line itself (bulk.services.need_by), to the owner and ADMINS, once.
    "need_by": (
        "is expected to miss its need-by",
        "It is served ahead of round-robin to come as close as it can.",
    ),
}


def build_owner_notice(
    *, job: BatchJob, action: str, by_name: str, note: str = ""
) -> EmailMultiAlternatives:
    verb, meaning = OWNER_NOTICES[action]
    context = job_email_context(job=job) | {
        "verb": verb,
        "meaning": meaning,
        "by_name": by_name,
        "note": note,
    }
    return EmailMultiAlternatives(
        subject=f"Bulk quote “{job.file_name}” {verb}",
        body=render_to_string("bulk/email/owner_notice.txt", context),
        to=[job.user.email],
        # Staff hear of a need-by that will be missed too.
        cc=[address for _, address in settings.ADMINS] if action == "need_by" else [],
    )


def send_owner_notice(*, job: BatchJob, action: str, by_name: str, note: str = "") -> None:
    """Email the job's owner what staff did to it (cancel, stop, pause, resume)."""
    message = build_owner_notice(job=job, action=action, by_name=by_name, note=note)
    try:
        message.send()
    except Exception as error:
        logger.warning("notice to the owner of job %s not sent: %s", job.pk, error)
        raise EmailNotSent(str(error)) from error
