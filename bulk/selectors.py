from django.db.models import QuerySet

from accounts.models import User
from bulk.models import BatchJob, StagedUpload

RECENT_JOBS = 10


def jobs_for_user(*, user: User) -> QuerySet[BatchJob]:
    """The user's own jobs, newest first (another user's job is never in here)."""
    return BatchJob.objects.filter(user=user).order_by("-created_at")


def recent_jobs_for_user(*, user: User, limit: int = RECENT_JOBS) -> list[BatchJob]:
    """The user's most recent jobs, for the upload page."""
    return list(jobs_for_user(user=user)[:limit])


def staged_uploads_for_user(*, user: User) -> QuerySet[StagedUpload]:
    """The user's own staged uploads, without the heavy parsed rows and file bytes."""
    return StagedUpload.objects.filter(user=user).defer("rows", "content")
