"""Uploads per user in any hour (BULK_UPLOADS_PER_HOUR): each file is read in the web
request, so one account's uploads are counted and refused with 429 past the limit."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bulk.models import StagedUpload
from tests.bulk.conftest import GOOD_ROW, HEADER, csv_bytes

pytestmark = pytest.mark.django_db


def post_file(client):
    data = csv_bytes([HEADER, GOOD_ROW])
    return client.post(
        reverse("bulk:index"),
        {"file": SimpleUploadedFile("s.csv", data), "speed_mbps": 1000, "term_months": 36},
    )


def test_an_upload_past_the_hourly_limit_answers_429_with_the_reason(signed_in_client, settings):
    settings.BULK_UPLOADS_PER_HOUR = 1
    assert post_file(signed_in_client).status_code == 302
    response = post_file(signed_in_client)
    assert response.status_code == 429
    assert "made 1 uploads in the last hour" in response.content.decode()
    assert StagedUpload.objects.count() == 1


def test_staff_uploads_are_not_limited(client, staff_user, settings):
    settings.BULK_UPLOADS_PER_HOUR = 1
    client.force_login(staff_user)
    assert [post_file(client).status_code for _ in range(3)] == [302, 302, 302]


def test_another_users_uploads_do_not_count_against_mine(client, user, other_user, settings):
    settings.BULK_UPLOADS_PER_HOUR = 1
    client.force_login(other_user)
    assert post_file(client).status_code == 302
    client.force_login(user)
    assert post_file(client).status_code == 302
