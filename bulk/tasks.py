"""Thin Celery wrappers for bulk's emails and results files. Quoting runs in
engine.tasks, and so do the sweepers; services enqueue these tasks, so this module
imports no service."""

import logging

from celery import shared_task
from django.utils import timezone

from bulk import emails, exports
from bulk.models import BatchJob, JobSource

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
def build_job_results(job_id: int) -> None:
    """Write a finished job's results files once and keep them with the job; a download
    serves them while no row changed since (bulk.exports.stored_results)."""
    job = BatchJob.objects.filter(pk=job_id).first()
    if job is None or not job.is_finished:
        logger.info("job %s is gone or running; results not built", job_id)
        return
    built_at = timezone.now()
    xlsx = exports.xlsx_bytes(job=job)
    text = "".join(exports.csv_chunks(job=job)).encode("utf-8")
    JobSource.objects.filter(batch_job=job).update(
        results_xlsx=xlsx, results_csv=text, results_built_at=built_at
    )
