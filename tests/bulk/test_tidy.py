"""Finding and tidying jobs: names, search, filters, deletion, and the job page's lists of
the rows that were not quoted."""

import io

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.urls import reverse

from bulk.models import BatchJob, BatchQuote, JobSource, StagedUpload
from bulk.services.uploads import stage_upload, submit_staged_upload
from tests.bulk.conftest import HEADER, BatchJobFactory, xlsx_bytes

pytestmark = pytest.mark.django_db


ROWS = [
    HEADER,
    ["12 Main St", "Boston", "MA", "02134"],
    ["", "Austin", "TX", "78701"],
    ["12 main street", "BOSTON", "MA", "02134"],
    ["9 Elm St", "Austin", "TX", "78701"],
]


def submitted_job(user, name: str = "sites.xlsx") -> BatchJob:
    staged = stage_upload(
        user=user,
        uploaded_file=io.BytesIO(xlsx_bytes(ROWS)),
        file_name=name,
        speed_mbps=1000,
        term_months=36,
        notify_email=False,
    )
    return submit_staged_upload(staged=staged, user=user)


def finished(job: BatchJob) -> BatchJob:
    job.rows.update(status=BatchQuote.Status.CANCELLED)
    BatchJob.objects.filter(pk=job.pk).update(
        status=BatchJob.Status.CANCELLED, cancelled_count=job.total_count
    )
    job.refresh_from_db()
    return job


# --- Names --------------------------------------------------------------------------------


def test_a_new_job_is_named_after_its_file(user, dispatched):
    job = submitted_job(user, name="March sites.xlsx")
    assert job.name == "March sites.xlsx"


def test_the_owner_renames_a_job_on_its_page(signed_in_client, user, dispatched):
    job = submitted_job(user)
    signed_in_client.post(reverse("bulk:rename", args=[job.pk]), {"name": "  Acme   Q3 "})
    job.refresh_from_db()
    assert job.name == "Acme Q3"
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert "Acme Q3" in page


def test_a_blank_name_gives_the_file_name_back(signed_in_client, user, dispatched):
    job = submitted_job(user, name="a.xlsx")
    signed_in_client.post(reverse("bulk:rename", args=[job.pk]), {"name": "X"})
    signed_in_client.post(reverse("bulk:rename", args=[job.pk]), {"name": " "})
    job.refresh_from_db()
    assert job.name == "a.xlsx"


def test_another_users_job_cannot_be_renamed(client, other_user, user, dispatched):
    job = submitted_job(user)
    client.force_login(other_user)
    response = client.post(reverse("bulk:rename", args=[job.pk]), {"name": "Mine now"})
    assert response.status_code == 404
    job.refresh_from_db()
    assert job.name == "sites.xlsx"


# --- Search and filters -------------------------------------------------------------------


def listed(client, **params) -> str:
    return client.get(reverse("bulk:jobs"), params).content.decode()


def test_search_finds_a_job_by_an_address_inside_it(signed_in_client, user, dispatched):
    with_elm = submitted_job(user, name="with-elm.xlsx")
    BatchJobFactory(user=user, file_name="other.xlsx", name="Other")
    page = listed(signed_in_client, q="9 elm")
    assert with_elm.title in page
    assert "Other" not in page


def test_search_finds_a_job_by_name_and_by_file_name(signed_in_client, user):
    BatchJobFactory(user=user, file_name="east.xlsx", name="Acme Q3")
    BatchJobFactory(user=user, file_name="west.csv", name="Beta")
    assert "Acme Q3" in listed(signed_in_client, q="acme")
    assert "Beta" not in listed(signed_in_client, q="acme")
    assert "Beta" in listed(signed_in_client, q="west.csv")


def test_search_never_shows_another_users_job(signed_in_client, other_user):
    theirs = BatchJobFactory(user=other_user, file_name="theirs.xlsx", name="Theirs")
    assert reverse("bulk:job", args=[theirs.pk]) not in listed(signed_in_client, q="Theirs")


def test_the_status_filter_and_search_combine(signed_in_client, user):
    BatchJobFactory(user=user, name="Acme done", status=BatchJob.Status.COMPLETE)
    BatchJobFactory(user=user, name="Acme open", status=BatchJob.Status.PENDING)
    page = listed(signed_in_client, q="acme", status="complete")
    assert "Acme done" in page
    assert "Acme open" not in page


def test_finished_jobs_have_download_links_on_the_list(signed_in_client, user):
    done = BatchJobFactory(user=user, name="Done", status=BatchJob.Status.COMPLETE)
    BatchJobFactory(user=user, name="Running", status=BatchJob.Status.PROCESSING)
    page = listed(signed_in_client)
    assert reverse("bulk:export", args=[done.pk, "xlsx"]) in page
    assert page.count('data-testid="job-downloads"') == 1


# --- Deletion -----------------------------------------------------------------------------


def test_deleting_a_finished_job_removes_its_rows_file_and_results(
    signed_in_client, user, dispatched
):
    job = finished(submitted_job(user))
    JobSource.objects.filter(batch_job=job).update(results_csv=b"x", results_xlsx=b"y")
    assert JobSource.objects.filter(batch_job=job, content__isnull=False).exists()
    confirm = signed_in_client.get(reverse("bulk:delete", args=[job.pk]))
    assert "Delete the job" in confirm.content.decode()
    response = signed_in_client.post(reverse("bulk:delete", args=[job.pk]))
    assert response.status_code == 302
    assert not BatchJob.objects.filter(pk=job.pk).exists()
    assert not BatchQuote.objects.filter(batch_job_id=job.pk).exists()
    assert not JobSource.objects.filter(batch_job_id=job.pk).exists()
    assert not StagedUpload.objects.filter(user=user).exists()


def test_a_deletion_is_in_admins_log(signed_in_client, user, dispatched):
    job = finished(submitted_job(user))
    signed_in_client.post(reverse("bulk:delete", args=[job.pk]))
    entry = LogEntry.objects.get(object_id=str(job.pk))
    assert entry.action_flag == DELETION
    assert entry.user == user


def test_another_users_job_cannot_be_deleted(client, other_user, user, dispatched):
    job = finished(submitted_job(user))
    client.force_login(other_user)
    assert client.get(reverse("bulk:delete", args=[job.pk])).status_code == 404
    assert client.post(reverse("bulk:delete", args=[job.pk])).status_code == 404
    assert BatchJob.objects.filter(pk=job.pk).exists()


def test_a_running_job_is_not_deleted(signed_in_client, user, dispatched):
    job = submitted_job(user)
    signed_in_client.post(reverse("bulk:delete", args=[job.pk]))
    assert BatchJob.objects.filter(pk=job.pk).exists()


# --- The rows not quoted ------------------------------------------------------------------


def test_the_job_page_lists_its_invalid_and_duplicate_rows(signed_in_client, user, dispatched):
    job = submitted_job(user)
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    invalid = page[page.index('id="invalid-rows"') :]
    assert "Street address" in invalid.split("</section>")[0]
    assert "Austin, TX, 78701" in invalid.split("</section>")[0]
    duplicates = page[page.index('id="duplicate-rows"') :].split("</section>")[0]
    assert '<td class="num">4</td><td class="num">2</td>' in duplicates
    assert "12 main street" in duplicates
