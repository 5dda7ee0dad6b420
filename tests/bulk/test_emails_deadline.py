"""A send has a deadline for its whole duration (config.mail), so a mail server that drips
its replies or acks DATA slowly cannot make one send outlive BULK_EMAIL_RESEND_AFTER and
get the job's email sent twice: with the sweeper's resends and the real send path, the
email is delivered once, or not at all and the send is given back for a retry.

The mail servers are real ones, on 127.0.0.1, written here: each pause they make is
shorter than EMAIL_TIMEOUT, so only a deadline over the whole send stops them.
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
import time
from datetime import timedelta

import pytest
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import timezone

from bulk import emails
from bulk.models import BatchJob
from bulk.services import completion
from config.mail import EmailDeadlineExceeded
from tests.factories import UserFactory
from tests.harness import create_job
from tests.smtp import SmtpHandler

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

PER_READ = 3.0  # EMAIL_TIMEOUT: no pause below is this long
DEADLINE = 2.0  # EMAIL_SEND_DEADLINE
RESEND_AFTER = 2.8  # BULK_EMAIL_RESEND_AFTER
DRIP = 0.1  # the tarpit's seconds between the bytes of a reply
DATA_PAUSE = 1.6  # the slow server's pause before its answers to DATA and to the message


class _Handler(SmtpHandler):
    server: HostileSmtp
    name = "tarpit"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1
            self.hostile = self.server.hostile_left > 0
            self.server.hostile_left -= 1

    def reply(self, line: str) -> None:
        data = line.encode() + b"\r\n"
        if self.hostile and self.server.mode == "tarpit":
            for byte in data:  # one byte at a time, each well within EMAIL_TIMEOUT
                if self.server.stop.wait(DRIP):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        else:
            self.wfile.write(data)
            self.wfile.flush()

    def pause(self) -> None:
        if self.hostile and self.server.mode == "slow-data":
            self.server.stop.wait(DATA_PAUSE)

    def client_gone(self) -> bool:
        # RFC 1047: a message whose client hung up before our "250" is not delivered.
        readable, _, _ = select.select([self.connection], [], [], 0)
        return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""

    def receive_message(self) -> None:
        self.pause()
        self.reply("354 End data with <CR><LF>.<CR><LF>")
        body = []
        while (line := self.rfile.readline()) not in (b"", b".\r\n"):
            body.append(line)
        self.pause()
        if line == b"" or self.client_gone():
            return
        self.reply("250 OK queued")
        with self.server.lock:
            self.server.messages.append(b"".join(body))

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client hung up: the deadline cut it
            self.reply("220 tarpit")
            self.converse()


class HostileSmtp(socketserver.ThreadingTCPServer):
    """On a free port of 127.0.0.1; its first `hostile` connections are a tarpit (every
    reply dripped a byte at a time) or slow to answer DATA ("slow-data"); then it is a
    prompt mail server. `messages` holds what it delivered."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, mode: str, hostile: int = 1) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.hostile_left = hostile
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.connections = 0
        self.messages: list[bytes] = []
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


@pytest.fixture
def smtp_settings(settings):
    """The portal's real SMTP path (settings.py picks config.mail's backend for SMTP)."""
    settings.EMAIL_BACKEND = "config.mail.DeadlineEmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = PER_READ
    settings.EMAIL_SEND_DEADLINE = DEADLINE
    settings.BULK_EMAIL_RESEND_AFTER = RESEND_AFTER
    return settings


def serve(smtp_settings, **options) -> HostileSmtp:
    server = HostileSmtp(**options)
    smtp_settings.EMAIL_PORT = server.port
    return server


@pytest.fixture
def tarpit(smtp_settings):
    server = serve(smtp_settings, mode="tarpit")
    yield server
    server.close()


@pytest.fixture
def slow_data(smtp_settings):
    server = serve(smtp_settings, mode="slow-data")
    yield server
    server.close()


def claimed_job() -> BatchJob:
    """A job whose email was claimed long ago and not sent yet."""
    job = create_job(user=UserFactory(), rows=1)
    BatchJob.objects.filter(pk=job.pk).update(notified_at=timezone.now() - timedelta(hours=1))
    job.refresh_from_db()
    return job


def send_in_thread(job: BatchJob, outcome: list) -> threading.Thread:
    """A worker sending the job's email (the task's call), as the first sender does."""

    def send() -> None:
        try:
            outcome.append(emails.send_job_finished_email(job=job))
        except emails.EmailNotSent as error:
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def sweep_and_send(monkeypatch, *, seconds: float) -> int:
    """The sweeper's resends (beat) and the sends they queue (a worker), every 0.1 s for
    `seconds`; how many sends this made."""
    queued: list[int] = []
    monkeypatch.setattr("bulk.tasks.send_job_email.delay", queued.append)
    sends = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        completion.resend_unsent_emails()
        while queued:
            sends += 1
            job = BatchJob.objects.get(pk=queued.pop())
            # A failed send is given back; the sweeper hands it out again (as a retry).
            with contextlib.suppress(emails.EmailNotSent):
                emails.send_job_finished_email(job=job)
        time.sleep(0.1)
    return sends


def message(to: str = "ada@example.com") -> EmailMessage:
    return EmailMessage(subject="Hello", body="Hi", to=[to])


# --- The backend alone ---------------------------------------------------------------------


def test_a_prompt_server_gets_the_message_through_the_deadline_backend(smtp_settings):
    server = serve(smtp_settings, mode="tarpit", hostile=0)
    try:
        assert message().send() == 1
        assert len(server.messages) == 1
    finally:
        server.close()


def test_a_tarpit_is_cut_at_the_send_deadline(tarpit):
    started = time.monotonic()
    with pytest.raises(EmailDeadlineExceeded):
        message().send()
    took = time.monotonic() - started
    # Each of its replies comes in well under EMAIL_TIMEOUT a byte; the whole send stops.
    assert DEADLINE <= took < DEADLINE + 0.5
    assert tarpit.messages == []


def test_a_slow_answer_to_data_is_cut_at_the_send_deadline_and_nothing_is_delivered(slow_data):
    started = time.monotonic()
    with pytest.raises(EmailDeadlineExceeded):
        message().send()
    assert time.monotonic() - started < DEADLINE + 0.5
    time.sleep(2 * DATA_PAUSE - DEADLINE + 0.5)  # past the moment the server would ack
    assert slow_data.messages == []


# --- With the send protocol and the sweeper ------------------------------------------------


@pytest.mark.parametrize("server", ["tarpit", "slow_data"])
def test_a_slow_mail_server_gets_the_job_email_exactly_once(server, request, monkeypatch):
    smtp = request.getfixturevalue(server)
    job = claimed_job()
    first: list = []
    sender = send_in_thread(job, first)
    waited = time.monotonic() + 10
    while not smtp.connections and time.monotonic() < waited:  # it took the send
        time.sleep(0.01)
    # Sweep for longer than the first send would take without a deadline, and past the
    # resend delay after it.
    resends = sweep_and_send(monkeypatch, seconds=RESEND_AFTER + 4)
    sender.join(timeout=10)
    assert not sender.is_alive()
    assert len(smtp.messages) == 1  # (two copies without the deadline)
    assert isinstance(first[0], emails.EmailNotSent)  # cut, and the send given back
    assert resends == 1
    assert emails.job_email_message_id(job=job).encode() in smtp.messages[0]
    job.refresh_from_db()
    assert job.notification_sent_at is not None


def test_a_server_always_slow_gets_no_email_and_the_send_is_given_back(smtp_settings):
    server = serve(smtp_settings, mode="slow-data", hostile=10)
    try:
        job = claimed_job()
        with pytest.raises(emails.EmailNotSent):
            emails.send_job_finished_email(job=job)
        time.sleep(2 * DATA_PAUSE - DEADLINE + 0.5)  # past the moment the server would ack
        assert server.messages == []
        job.refresh_from_db()
        assert (job.notification_started_at, job.notification_sent_at) == (None, None)
        assert list(completion.emails_to_resend()) == [job]  # a clean retry
    finally:
        server.close()
