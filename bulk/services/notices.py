"""Telling a job's owner what someone else (staff) did to it."""

from __future__ import annotations

from bulk.emails import OWNER_NOTICES
from bulk.models import BatchJob
from bulk.tasks import send_owner_notice


def tell_owner(*, job: BatchJob, action: str, by, note: str = "") -> bool:
    """Email the job's owner that `by` did `action` (a key of bulk.emails.OWNER_NOTICES:
    cancel, force_finish, pause, resume) after the caller's transaction commits.

    Nothing is sent when the owner did it themselves. True if an email was queued.
    """
    if action not in OWNER_NOTICES:
        raise ValueError(f"no owner notice for {action!r}")
    if by is not None and by.pk == job.user_id:
        return False
    by_name = "Staff" if by is None else (by.get_full_name() or "Staff")
    send_owner_notice.delay_on_commit(job.pk, action, by_name, note)
    return True
