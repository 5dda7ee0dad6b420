"""The API's part of finding and tidying jobs: a job's name, search, deletion."""

import pytest
from django.urls import reverse

from bulk.models import BatchJob
from tests.bulk.conftest import BatchJobFactory
from tests.bulk.test_tidy import finished, submitted_job

pytestmark = pytest.mark.django_db


def test_the_api_renames_a_job_and_shows_its_name(api_client, user):
    job = submitted_job(user)
    url = reverse("api:job_update", args=[job.pk])
    answer = api_client.patch(url, {"name": "Acme"}, content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["name"] == "Acme"
    assert api_client.get(reverse("api:job_detail", args=[job.pk])).json()["name"] == "Acme"


def test_the_api_searches_jobs(api_client, user):
    BatchJobFactory(user=user, name="Acme")
    BatchJobFactory(user=user, name="Beta")
    answer = api_client.get(reverse("api:job_list"), {"q": "acm"}).json()
    assert [job["name"] for job in answer["items"]] == ["Acme"]


def test_the_api_deletes_a_finished_job_and_refuses_an_open_one(api_client, user):
    running = submitted_job(user)
    assert api_client.delete(reverse("api:job_delete", args=[running.pk])).status_code == 409
    done = finished(submitted_job(user))
    assert api_client.delete(reverse("api:job_delete", args=[done.pk])).status_code == 204
    assert not BatchJob.objects.filter(pk=done.pk).exists()


def test_the_api_answers_404_for_another_users_job(other_api_client, user):
    job = finished(submitted_job(user))
    assert other_api_client.delete(reverse("api:job_delete", args=[job.pk])).status_code == 404
    assert BatchJob.objects.filter(pk=job.pk).exists()
