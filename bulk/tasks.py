"""Thin Celery wrappers for bulk's emails. Quoting runs in engine.tasks, and so do the
sweepers; services enqueue these tasks, so this module imports no service."""

import logging

from celery import shared_task

from bulk import emails
from bulk.models import BatchJob

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=10)
def send_job_email(self, job_id: int) -> None:
    """Send a finished job's email, once (the claim is in emails.send_job_finished_email)."""
    job = BatchJob.objects.filter(pk=job_id).select_related("user").first()
    if job is None:
        logger.info("job %s is gone; no email", job_id)
        return
    try:
        emails.send_job_finished_email(job=job)
    except emails.EmailNotSent as error:
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error


@shared_task(bind=True, max_retries=10)
def send_owner_notice(self, job_id: int, action: str, by_name: str, note: str = "") -> None:
    """Tell a job's owner what staff did to it (bulk.services.notices.tell_owner)."""
    job = BatchJob.objects.filter(pk=job_id).select_related("user").first()
    if job is None:
        logger.info("job %s is gone; no notice", job_id)
        return
    try:
        emails.send_owner_notice(job=job, action=action, by_name=by_name, note=note)
    except emails.EmailNotSent as error:
        raise self.retry(exc=error, countdown=min(600, 30 * 2**self.request.retries)) from error
