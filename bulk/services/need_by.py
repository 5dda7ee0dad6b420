"""Telling a job's owner and staff, once, that the line expects it to miss its need-by."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bulk.line import load_line
from bulk.models import BatchJob
from bulk.services.notices import tell_owner
from config.time_tags import clock


@transaction.atomic
def warn_late_jobs() -> list[int]:
    """Jobs whose expected finish (bulk.line) is past their need-by and that were not yet
    warned: each claims its warning (a guarded update) and its owner and ADMINS get one
    email with the new expected time. The ids warned."""
    line = load_line()
    warned = []
    for entry in line.jobs:
        job, eta = entry.job, entry.eta
        if not job.need_by or job.need_by_warned_at or eta is None:
            continue
        if eta.finish_at <= job.need_by:
            continue
        claimed = BatchJob.objects.filter(pk=job.pk, need_by_warned_at__isnull=True).update(
            need_by_warned_at=timezone.now()
        )
        if claimed:
            note = (
                f"Needed by {clock(job.need_by)}; now expected done around "
                f"{clock(eta.finish_at)} (between {clock(eta.low_at)} and {clock(eta.high_at)})."
            )
            tell_owner(job=job, action="need_by", by=None, note=note)
            warned.append(job.pk)
    return warned
