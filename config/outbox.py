"""The embedded default's email: each message written to EMAIL_OUTBOX_DIR (var/mail/) as
an .eml file, and one readable line in the log ("Email to ann@example.com: Your job …"),
instead of the raw message on the terminal. Staff read them on the Outbox page
(/ops/outbox/, shown with DEBUG on). Production sets EMAIL_URL (SMTP)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger("config.outbox")


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.EMAIL_OUTBOX_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(message.message().as_bytes())
            logger.info(
                "Email to %s: %s (%s)", ", ".join(message.recipients()), message.subject, path
            )
            sent += 1
        return sent


@dataclass(frozen=True)
class OutboxEmail:
    name: str
    to: str
    subject: str
    sent_at: datetime | None
    body: str


def outbox(*, limit: int = 100) -> list[OutboxEmail]:
    """The newest emails written to the outbox, newest first."""
    folder = Path(settings.EMAIL_OUTBOX_DIR)
    paths = sorted(folder.glob("*.eml"), reverse=True)[:limit] if folder.is_dir() else []
    return [_read(path) for path in paths]


def _read(path: Path) -> OutboxEmail:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text = message.get_body(preferencelist=("plain", "html"))
    date = message["Date"]
    return OutboxEmail(
        name=path.name,
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        sent_at=parsedate_to_datetime(date) if date else None,
        body=text.get_content() if text is not None else "",
    )
