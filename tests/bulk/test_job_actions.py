import pytest
from django.urls import reverse

from bulk.models import BatchJob, BatchQuote
from tests.harness import create_job


def post_action(client, job, action):
    return client.post(reverse("bulk:job_action", args=[job.pk, action]))


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["cancel", "resume", "retry"])
def test_another_users_job_cannot_be_acted_on(client, user, other_user, action):
    job = create_job(user=other_user, rows=3)
    client.force_login(user)
    assert post_action(client, job, action).status_code == 404
    job.refresh_from_db()
    assert job.status == BatchJob.Status.PENDING
    assert not job.events.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_another_users_results_answer_404(client, user, other_user, fmt):
    job = create_job(user=other_user, rows=3)
    client.force_login(user)
    assert client.get(reverse("bulk:export", args=[job.pk, fmt])).status_code == 404


@pytest.mark.django_db
def test_the_owner_cancels_a_job_and_its_pending_rows(signed_in_client, user):
    job = create_job(user=user, rows=3)
    response = post_action(signed_in_client, job, "cancel")
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.cancelled_count) == (BatchJob.Status.CANCELLED, 3)
    assert job.finished_at is not None
    assert job.rows.filter(status=BatchQuote.Status.CANCELLED).count() == 3
    assert job.events.get().actor == user


@pytest.mark.django_db
def test_cancelling_a_finished_job_says_why(signed_in_client, user):
    job = create_job(user=user, rows=1)
    post_action(signed_in_client, job, "cancel")
    response = post_action(signed_in_client, job, "cancel")
    page = signed_in_client.get(response.url).content
    assert b"already cancelled" in page


@pytest.mark.django_db
def test_retry_with_nothing_failed_says_so(signed_in_client, user):
    job = create_job(user=user, rows=1)
    response = post_action(signed_in_client, job, "retry")
    assert b"no failed rows" in signed_in_client.get(response.url).content


@pytest.mark.django_db
def test_actions_must_be_posted(signed_in_client, user):
    job = create_job(user=user, rows=1)
    response = signed_in_client.get(reverse("bulk:job_action", args=[job.pk, "cancel"]))
    assert response.status_code == 405
