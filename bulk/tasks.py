"""Thin Celery wrappers for the bulk engine (email, sweeper). Quoting itself runs in
quotes.tasks; bulk rows join it through bulk.services.jobs."""

import logging

from celery import shared_task

from bulk import emails
from bulk.models import BatchJob
from bulk.services import jobs, uploads

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


@shared_task
def sweep() -> None:
    """Finish jobs whose rows all ended; re-send claimed emails that never went out;
    delete expired staged uploads."""
    report = jobs.sweep_jobs()
    if any(report.values()):
        logger.warning("bulk sweeper: %s", report)
    deleted = uploads.delete_expired_uploads()
    if deleted:
        logger.info("deleted %s expired staged uploads", deleted)
