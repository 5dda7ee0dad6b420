"""The SMTP backend the portal sends with: one deadline for the whole send.

Django's SMTP backend passes EMAIL_TIMEOUT to each socket operation, so a server that
drips its replies a byte at a time, or acks DATA slowly, keeps one send going for as long
as it likes; a send that outlives BULK_EMAIL_RESEND_AFTER is sent again by the sweeper.
Here a watchdog shuts the connection's socket down when EMAIL_SEND_DEADLINE has passed
since the send began (connect, EHLO, TLS, login, MAIL, RCPT, DATA and its reply alike),
and the send raises EmailDeadlineExceeded: the caller gives the send back and retries it.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend


class EmailDeadlineExceeded(smtplib.SMTPException):
    """The send took longer than EMAIL_SEND_DEADLINE and was abandoned."""


class SendDeadline:
    """The moment one send must be over by, and the connections it has opened."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connections: list[smtplib.SMTP] = []

    def remaining(self) -> float:
        left = self.expires - time.monotonic()
        if left <= 0 or self.expired:
            raise EmailDeadlineExceeded(f"the send took longer than {self.seconds:g} s")
        return left

    def watch(self, connection: smtplib.SMTP) -> None:
        with self._lock:
            self._connections.append(connection)

    def expire(self) -> None:
        """Cut every connection of the send: a blocked read or write returns at once."""
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            # After STARTTLS `sock` is the TLS socket over the same descriptor.
            sock = connection.sock
            if sock is None:
                continue
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def deadline_connection_class(base: type[smtplib.SMTP], deadline: SendDeadline) -> type:
    """`base` (SMTP or SMTP_SSL) whose sockets are cut when `deadline` passes."""

    class DeadlineSMTP(base):
        def __init__(self, *args, **kwargs) -> None:
            deadline.watch(self)  # before connecting: the greeting can drip too
            super().__init__(*args, **kwargs)

        def _get_socket(self, host, port, timeout):
            # No single operation may wait past the deadline, connect included.
            timeout = min(timeout, deadline.remaining()) if timeout else deadline.remaining()
            sock = super()._get_socket(host, port, timeout)
            if deadline.expired:
                sock.close()
                deadline.remaining()  # raises
            return sock

    return DeadlineSMTP


class DeadlineEmailBackend(EmailBackend):
    """Django's SMTP backend, with EMAIL_SEND_DEADLINE over each call to send_messages."""

    _deadline: SendDeadline | None = None

    @property
    def connection_class(self):
        base = super().connection_class
        if self._deadline is None:
            return base
        return deadline_connection_class(base, self._deadline)

    def send_messages(self, email_messages):
        deadline = SendDeadline(settings.EMAIL_SEND_DEADLINE)
        self._deadline = deadline
        # A connection kept open from an earlier call is not watched: start afresh.
        self.close()
        watchdog = threading.Timer(deadline.seconds, deadline.expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            sent = super().send_messages(email_messages)
        except Exception as error:
            if deadline.expired:
                raise EmailDeadlineExceeded(
                    f"the send took longer than {deadline.seconds:g} s: {error}"
                ) from error
            raise
        finally:
            watchdog.cancel()
            self._deadline = None
        if deadline.expired and sent < len(email_messages):
            raise EmailDeadlineExceeded(f"the send took longer than {deadline.seconds:g} s")
        return sent
