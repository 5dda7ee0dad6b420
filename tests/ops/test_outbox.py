"""The embedded default's email: written to var/mail/, one log line each, read by staff
on the Outbox page (DEBUG only)."""

import logging

import pytest
from django.core.mail import EmailMessage
from django.urls import reverse

from config.outbox import OutboxEmailBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox_dir(settings, tmp_path):
    settings.EMAIL_OUTBOX_DIR = tmp_path / "mail"
    return tmp_path / "mail"


def send(subject: str = "Your job “März” is complete") -> None:
    message = EmailMessage(subject, "All 3 rows priced.", "q@localhost", ["ann@example.com"])
    OutboxEmailBackend().send_messages([message])


def test_an_email_is_written_to_the_outbox_and_logged_in_one_readable_line(outbox_dir, caplog):
    with caplog.at_level(logging.INFO, logger="config.outbox"):
        send()
    (path,) = outbox_dir.glob("*.eml")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "config.outbox"]
    assert line.startswith("Email to ann@example.com: Your job “März” is complete")
    assert b"All 3 rows priced." in path.read_bytes()


def test_staff_read_the_outbox_with_debug_on(client, staff_user, outbox_dir, settings):
    settings.DEBUG = True
    send()
    client.force_login(staff_user)
    page = client.get(reverse("ops:outbox")).content.decode()
    assert "Your job “März” is complete" in page
    assert "All 3 rows priced." in page


def test_the_outbox_is_a_404_without_debug_or_for_non_staff(
    client, staff_user, user, outbox_dir, settings
):
    settings.DEBUG = False
    client.force_login(staff_user)
    assert client.get(reverse("ops:outbox")).status_code == 404
    settings.DEBUG = True
    client.force_login(user)
    assert client.get(reverse("ops:outbox")).status_code == 404
