"""The email a user gets when a bulk job ends."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from bulk.models import BatchJob

logger = logging.getLogger(__name__)


class EmailNotSent(Exception):
    """The mail server refused or could not be reached; the send is retried."""


def job_email_context(*, job: BatchJob) -> dict:
    started = job.started_at or job.created_at
    finished = job.finished_at or timezone.now()
    return {
        "job": job,
        "took": timesince(started, finished),
        "job_url": settings.PORTAL_URL + reverse("bulk:job", args=[job.pk]),
        "results_url": settings.PORTAL_URL + reverse("bulk:export", args=[job.pk, "xlsx"]),
    }


def job_email_subject(*, job: BatchJob) -> str:
    verb = {
        BatchJob.Status.COMPLETE: "finished",
        BatchJob.Status.FAILED: "finished with no prices",
        BatchJob.Status.CANCELLED: "cancelled",
    }.get(job.status, "ended")
    return (
        f"Bulk quote “{job.file_name}” {verb}: {job.success_count} quoted, "
        f"{job.failed_count} failed"
        + (f", {job.cancelled_count} cancelled" if job.cancelled_count else "")
    )


def build_job_email(*, job: BatchJob) -> EmailMultiAlternatives:
    context = job_email_context(job=job)
    message = EmailMultiAlternatives(
        subject=job_email_subject(job=job),
        body=render_to_string("bulk/email/job_finished.txt", context),
        to=[job.user.email],
    )
    message.attach_alternative(
        render_to_string("bulk/email/job_finished.html", context), "text/html"
    )
    return message


def send_job_finished_email(*, job: BatchJob) -> bool:
    """Send the email if it is claimed and not sent yet; True if this call sent it."""
    message = build_job_email(job=job)
    now = timezone.now()
    # Mark it sent before sending, so a redelivered task cannot send it twice; if the
    # send fails the mark is taken back and the task retries.
    marked = BatchJob.objects.filter(
        pk=job.pk, notified_at__isnull=False, notification_sent_at__isnull=True
    ).update(notification_sent_at=now)
    if not marked:
        return False
    try:
        message.send()
    except Exception as error:
        BatchJob.objects.filter(pk=job.pk, notification_sent_at=now).update(
            notification_sent_at=None
        )
        logger.warning("email for job %s not sent: %s", job.pk, error)
        raise EmailNotSent(str(error)) from error
    return True
