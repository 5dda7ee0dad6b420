"""The demo's outbox: each email written to a file and named in one readable log line.

With DEBUG on and no EMAIL_URL (the demo), email goes here rather than to the console:
a worker's console output becomes `WARNING celery.redirected` lines of encoded headers.
Each message is kept as an .eml file in EMAIL_OUTBOX_DIR (var/mail/), the log says
`email to a@example.com: Bulk quote "sites.csv" finished: ...`, and staff read the
messages on the Outbox page (`/ops/outbox/`, shown only with DEBUG on).
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger(__name__)
# The file name: when it was sent (sortable), then a random part; nothing from the mail.
_NAME = re.compile(r"^\d{8}T\d{6}\.\d{6}-[0-9a-f]{32}\.eml$")


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.EMAIL_OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S.%f")
            path = folder / f"{stamp}-{uuid.uuid4().hex}.eml"
            path.write_bytes(message.message().as_bytes(linesep="\n"))  # a name of its own
            logger.info("email to %s: %s", ", ".join(message.recipients()), message.subject)
            sent += 1
        return sent


@dataclass(frozen=True)
class Kept:
    name: str
    sent_at: datetime | None
    to: str
    subject: str
    body: str


def kept_messages(limit: int = 200) -> list[Kept]:
    """The outbox's messages, newest first."""
    folder = Path(settings.EMAIL_OUTBOX_DIR)
    if not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if _NAME.match(p.name)), reverse=True)
    return [read_message(name) for name in names[:limit]]


def read_message(name: str) -> Kept | None:
    """One kept message by its file name; None for a name that is not one of ours."""
    path = Path(settings.EMAIL_OUTBOX_DIR) / name
    if not _NAME.match(name) or not path.is_file():
        return None
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    part = parsed.get_body(preferencelist=("plain", "html"))
    return Kept(
        name=name,
        sent_at=_sent_at(name),
        to=_header(parsed, "To"),
        subject=_header(parsed, "Subject"),
        body=part.get_content() if part is not None else "",
    )


def _header(parsed, name: str) -> str:
    """A header as one line (a long encoded one comes back folded)."""
    return " ".join(str(parsed.get(name, "")).split())


def _sent_at(name: str) -> datetime | None:
    try:
        return datetime.strptime(name[:22], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
    except ValueError:
        return None
