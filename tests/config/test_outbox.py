"""The demo's outbox: emails kept as files, one readable log line each, a staff page."""

import logging

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.urls import reverse

from config import outbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def kept(settings, tmp_path):
    settings.EMAIL_BACKEND = "config.outbox.OutboxEmailBackend"
    settings.EMAIL_OUTBOX_DIR = tmp_path / "mail"
    settings.DEBUG = True
    return tmp_path / "mail"


def send(subject: str = "Bulk quote “sites.csv” finished: 2 quoted, 0 failed") -> None:
    message = EmailMultiAlternatives(subject, "Two prices.", to=["rep@example.com"])
    message.attach_alternative("<p>Two prices.</p>", "text/html")
    assert mail.get_connection().send_messages([message]) == 1


def test_each_email_is_a_file_and_one_readable_line(kept, caplog):
    with caplog.at_level(logging.INFO, logger="config.outbox"):
        send()
    (path,) = kept.iterdir()
    assert path.suffix == ".eml"
    assert caplog.messages == [
        "email to rep@example.com: Bulk quote “sites.csv” finished: 2 quoted, 0 failed"
    ]
    (message,) = outbox.kept_messages()
    assert (message.to, message.body.strip()) == ("rep@example.com", "Two prices.")
    assert message.subject == "Bulk quote “sites.csv” finished: 2 quoted, 0 failed"


def test_staff_read_the_outbox_only_with_debug_on(kept, client, admin_user, user, settings):
    send()
    (message,) = outbox.kept_messages()
    client.force_login(user)
    assert client.get(reverse("ops:outbox")).status_code == 404
    client.force_login(admin_user)
    page = client.get(reverse("ops:outbox")).content.decode()
    assert "Bulk quote “sites.csv” finished" in page
    one = client.get(reverse("ops:outbox_message", args=[message.name])).content.decode()
    assert "Two prices." in one
    assert client.get(reverse("ops:outbox_message", args=["..%2Fsettings.py"])).status_code == 404
    assert client.get(reverse("ops:outbox_message", args=["x.eml"])).status_code == 404
    settings.DEBUG = False
    assert client.get(reverse("ops:outbox")).status_code == 404
