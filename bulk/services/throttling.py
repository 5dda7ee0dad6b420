"""How many files one user may upload (config.rate_limit counts): each is read in the web
request, so the count bounds the reading work one account can ask of the web workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from config import rate_limit

if TYPE_CHECKING:
    from accounts.models import User

WINDOW_SECONDS = 3600.0


class UploadRateLimited(Exception):
    """The user uploaded BULK_UPLOADS_PER_HOUR files in the last hour: HTTP 429."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_upload_rate(*, user: User) -> None:
    """Count an upload; refuse one past BULK_UPLOADS_PER_HOUR in any hour (a sliding hour).
    Staff are not limited."""
    if user.is_staff:
        return
    limit = settings.BULK_UPLOADS_PER_HOUR
    if not rate_limit.take(scope="bulk-upload", subject=str(user.pk), limit=limit):
        raise UploadRateLimited(
            f"You have made {limit} uploads in the last hour, the most we allow one "
            "account. Try again later: each upload counts against the limit for an hour."
        )
