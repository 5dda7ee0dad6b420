"""An owner's housekeeping of their jobs: name one, delete a finished one (with its rows,
the stored upload and the built results). Staff see each deletion in admin's log."""

from __future__ import annotations

from django.contrib.admin.models import DELETION, LogEntry
from django.db import transaction

from bulk.models import BatchJob, StagedUpload
from bulk.services.jobs import JobActionRefused, record_event

NAME_MAX_LENGTH = BatchJob._meta.get_field("name").max_length


@transaction.atomic
def rename_job(*, job: BatchJob, name: str, by) -> BatchJob:
    """Give the job a name (blank: its file name again)."""
    name = " ".join(name.split())[:NAME_MAX_LENGTH] or job.file_name
    BatchJob.objects.filter(pk=job.pk).update(name=name)
    record_event(job=job, action="rename", actor=by, detail=name)
    job.name = name
    return job


@transaction.atomic
def delete_job(*, job: BatchJob, by) -> None:
    """Delete a finished or cancelled job: its rows, the file it kept and its results go
    with it (the quotes stay: they are the account's history, and other jobs may reuse
    them). An open job must be cancelled first."""
    job = BatchJob.objects.select_for_update().get(pk=job.pk)
    if not job.is_finished:
        raise JobActionRefused("Cancel the job first: only a finished job can be deleted.")
    # The staged upload's own copy of the file goes too.
    StagedUpload.objects.filter(batch_job=job).delete()
    LogEntry.objects.log_actions(
        user_id=by.pk,
        queryset=[job],
        action_flag=DELETION,
        change_message=f"Deleted by its owner with its {job.total_count} rows.",
        single_object=True,
    )
    job.delete()
