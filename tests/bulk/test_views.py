import csv
import io
import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bulk.models import BatchJob, BatchQuote, StagedUpload
from bulk.spreadsheets.upload import parse_upload
from tests.bulk.conftest import (
    GOOD_ROW,
    HEADER,
    BatchJobFactory,
    StagedUploadFactory,
    address_rows,
    csv_bytes,
    upload,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("bulk:index")


def post_file(client, data: bytes, name: str = "sites.xlsx", **fields):
    form = {"speed_mbps": 1000, "term_months": 36, "notify_email": "on"} | fields
    return client.post(INDEX, {**form, "file": upload(data, name)})


def preview_url(staged) -> str:
    return reverse("bulk:preview", args=[staged.pk])


# --- Upload page --------------------------------------------------------------------------


def test_upload_page_needs_a_signed_in_user(client):
    response = client.get(INDEX)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_upload_form_offers_the_defaults(signed_in_client):
    form = signed_in_client.get(INDEX).context["form"]
    assert form["speed_mbps"].value() == 1000
    assert form["term_months"].value() == 36
    assert form["notify_email"].value() is True
    assert [c[0] for c in form.fields["speed_mbps"].choices] == [
        100,
        200,
        500,
        1000,
        2000,
        5000,
        10000,
    ]
    assert [c[0] for c in form.fields["term_months"].choices] == [12, 24, 36, 60]


def test_upload_page_lists_the_users_ten_most_recent_jobs(signed_in_client, user, other_user):
    mine = [BatchJobFactory(user=user, file_name=f"mine-{n}.xlsx") for n in range(12)]
    BatchJobFactory(user=other_user, file_name="theirs.xlsx")
    response = signed_in_client.get(INDEX)
    assert [job.pk for job in response.context["jobs"]] == [job.pk for job in mine[::-1][:10]]
    assert b"theirs.xlsx" not in response.content
    assert b'class="badge pending"' in response.content


def test_valid_upload_redirects_to_its_preview(signed_in_client, user):
    response = post_file(signed_in_client, xlsx_bytes([HEADER, GOOD_ROW]), speed_mbps=500)
    staged = StagedUpload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == preview_url(staged)
    assert (staged.user, staged.speed_mbps, staged.notify_email) == (user, 500, True)


def test_unticked_email_box_turns_the_email_off(signed_in_client):
    form = {"speed_mbps": 1000, "term_months": 12, "file": upload(xlsx_bytes([HEADER, GOOD_ROW]))}
    signed_in_client.post(INDEX, form)
    assert StagedUpload.objects.get().notify_email is False


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "sites.xlsx", "This isn&#x27;t a spreadsheet"),
        (csv_bytes([HEADER]), "sites.csv", "but no address rows."),
    ],
    ids=["wrong-type", "header-only"],
)
def test_rejected_file_shows_why_and_creates_nothing(signed_in_client, data, name, message):
    response = post_file(signed_in_client, data, name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert StagedUpload.objects.count() == 0


def test_empty_file_is_refused_by_the_form(signed_in_client):
    response = post_file(signed_in_client, b"", "empty.csv")
    assert "The submitted file is empty." in response.content.decode()
    assert StagedUpload.objects.count() == 0


def test_file_over_the_size_limit_is_refused(signed_in_client, settings):
    settings.BULK_MAX_UPLOAD_BYTES = 1024
    response = post_file(signed_in_client, csv_bytes([HEADER, *address_rows(200)]), "big.csv")
    assert "the limit is 1.0\u00a0KB" in response.content.decode()
    assert StagedUpload.objects.count() == 0


def test_file_over_the_row_limit_is_refused(signed_in_client, settings):
    settings.BULK_MAX_ROWS = 3
    response = post_file(signed_in_client, xlsx_bytes([HEADER, *address_rows(4)]))
    assert "more than 3 address rows" in response.content.decode()
    assert StagedUpload.objects.count() == 0


def test_unknown_speed_is_refused(signed_in_client):
    response = post_file(signed_in_client, xlsx_bytes([HEADER, GOOD_ROW]), speed_mbps=123)
    assert response.context["form"].errors["speed_mbps"]
    assert StagedUpload.objects.count() == 0


# --- Preview ------------------------------------------------------------------------------


def test_preview_shows_counts_reasons_and_first_valid_rows(signed_in_client):
    rows = [
        ["Our sites"],
        HEADER,
        GOOD_ROW,
        ["9 Elm St", "Austin", "Texass", 78701],
        ["12 main st", "boston", "massachusetts", 2134],
    ]
    post_file(signed_in_client, xlsx_bytes(rows))
    staged = StagedUpload.objects.get()
    page = signed_in_client.get(preview_url(staged)).content.decode()
    assert "Valid: will be quoted" in page
    assert "State &quot;Texass&quot; is not a US state or USPS code" in page
    assert "Quote 1 address</button>" in page
    assert "02134" in page
    assert reverse("bulk:invalid_rows", args=[staged.pk]) in page
    assert "Same as row" in page


def test_preview_of_another_users_upload_is_404(signed_in_client, other_user):
    staged = StagedUploadFactory(user=other_user)
    assert signed_in_client.get(preview_url(staged)).status_code == 404


def test_choosing_the_columns_of_another_users_upload_is_404(signed_in_client, other_user):
    staged = StagedUploadFactory(user=other_user, status=StagedUpload.Status.MAPPING)
    form = {"street": "1", "city": "2", "state": "3", "sheet": ""}
    response = signed_in_client.post(reverse("bulk:columns", args=[staged.pk]), form)
    assert response.status_code == 404
    staged.refresh_from_db()
    assert staged.status == StagedUpload.Status.MAPPING


def test_preview_of_an_unknown_upload_is_404(signed_in_client):
    assert signed_in_client.get(reverse("bulk:preview", args=[uuid.uuid4()])).status_code == 404


def test_expired_preview_says_to_upload_again(signed_in_client, user):
    staged = StagedUploadFactory(user=user, expires_at=timezone.now() - timedelta(hours=1))
    response = signed_in_client.get(preview_url(staged))
    assert response.status_code == 410
    assert "This upload has expired" in response.content.decode()
    assert reverse("bulk:submit", args=[staged.pk]) not in response.content.decode()


def test_rejected_background_parse_shows_its_message(signed_in_client, user):
    staged = StagedUploadFactory(
        user=user, status=StagedUpload.Status.REJECTED, error_message="Too many rows."
    )
    page = signed_in_client.get(preview_url(staged)).content.decode()
    assert "Too many rows." in page
    assert "Nothing was created." in page


def test_a_file_without_the_address_columns_opens_the_mapping_step(signed_in_client):
    data = csv_bytes(
        [["Name", "Where", "Town", "Region"], ["HQ", "420 El Cerrito Plaza", "El Cerrito", "CA"]]
    )
    response = post_file(signed_in_client, data, "sites.csv")
    staged = StagedUpload.objects.get()
    assert response["Location"] == preview_url(staged)
    assert staged.status == StagedUpload.Status.MAPPING
    page = signed_in_client.get(preview_url(staged)).content.decode()
    assert "Choose the columns for: Street address, State" in page
    assert '<details class="mapping" id="mapping" open>' in page
    assert "B: Where (e.g. 420 El Cerrito Plaza)" in page


def test_choosing_the_columns_reads_the_file_again_and_remembers_them(signed_in_client, user):
    data = csv_bytes(
        [["Name", "Where", "Town", "Region"], ["HQ", "420 El Cerrito Plaza", "El Cerrito", "CA"]]
    )
    post_file(signed_in_client, data, "sites.csv")
    staged = StagedUpload.objects.get()
    form = {"street": "1", "city": "2", "state": "3", "sheet": ""}
    response = signed_in_client.post(reverse("bulk:columns", args=[staged.pk]), form)
    assert response["Location"] == preview_url(staged)
    staged.refresh_from_db()
    assert (staged.status, staged.valid_count) == (StagedUpload.Status.READY, 1)
    # The next file laid out the same way is read with those columns at once.
    post_file(signed_in_client, data, "again.csv")
    again = StagedUpload.objects.exclude(pk=staged.pk).get()
    assert (again.status, again.mapping_source) == (StagedUpload.Status.READY, "remembered")
    assert "As you chose last time" in signed_in_client.get(preview_url(again)).content.decode()


def test_an_incomplete_choice_of_columns_is_explained(signed_in_client, user):
    staged = StagedUploadFactory(user=user)
    response = signed_in_client.post(
        reverse("bulk:columns", args=[staged.pk]), {"street": "0", "sheet": ""}
    )
    assert response.status_code == 400
    assert "Choose a column for City, State, or one full address column." in (
        response.content.decode()
    )


def test_preview_shows_the_estimate_in_the_viewers_time_zone(signed_in_client, user, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 140
    settings.MOMENTUM_POLL_INTERVAL = 10
    staged = StagedUploadFactory(user=user, valid_count=26)
    signed_in_client.cookies["tz"] = "America/Denver"
    page = signed_in_client.get(preview_url(staged)).content.decode()
    assert "26 addresses: about 1 h 5 min, between " in page
    assert "nothing ahead of yours" in page
    assert re.search(r"done around (\w{3} \d+ \w{3}, )?\d\d:\d\d M[SD]T", page)


def test_preview_answers_a_need_by_nothing_can_meet(signed_in_client, user, settings):
    settings.MOMENTUM_TYPICAL_LATENCY = 140
    settings.MOMENTUM_POLL_INTERVAL = 10
    # A turn is 150 s: one row by then.
    need_by = timezone.now() + timedelta(minutes=4)
    staged = StagedUploadFactory(user=user, valid_count=26, need_by=need_by)
    page = signed_in_client.get(preview_url(staged)).content.decode()
    assert re.search(r'data-testid="need-by">1 of 26 rows by [^<]+, the rest by [^<]+\.<', page)


def test_the_template_download_is_a_workbook_the_upload_reads(signed_in_client):
    response = signed_in_client.get(reverse("bulk:template"))
    assert response["Content-Disposition"] == 'attachment; filename="addresses.xlsx"'
    parsed = parse_upload(response.content)
    assert parsed.valid_count == 2
    assert parsed.field_columns["unit"] == "Unit"
    assert reverse("bulk:template") in signed_in_client.get(INDEX).content.decode()


# --- Submit -------------------------------------------------------------------------------


def test_submit_creates_the_job_and_redirects_to_it(signed_in_client, user, dispatched):
    staged = StagedUploadFactory(user=user)
    response = signed_in_client.post(reverse("bulk:submit", args=[staged.pk]))
    job = BatchJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("bulk:job", args=[job.pk])
    assert job.rows.count() == 1


def test_double_submit_makes_one_job(signed_in_client, user, dispatched):
    staged = StagedUploadFactory(user=user)
    url = reverse("bulk:submit", args=[staged.pk])
    first = signed_in_client.post(url)
    second = signed_in_client.post(url)
    assert first["Location"] == second["Location"]
    assert BatchJob.objects.count() == 1


def test_submit_of_another_users_upload_is_404(signed_in_client, other_user, dispatched):
    staged = StagedUploadFactory(user=other_user)
    assert signed_in_client.post(reverse("bulk:submit", args=[staged.pk])).status_code == 404
    assert BatchJob.objects.count() == 0


def test_submit_of_an_expired_upload_goes_back_with_a_message(signed_in_client, user):
    staged = StagedUploadFactory(user=user, expires_at=timezone.now() - timedelta(minutes=1))
    response = signed_in_client.post(reverse("bulk:submit", args=[staged.pk]), follow=True)
    assert "This upload has expired. Upload the file again" in response.content.decode()
    assert BatchJob.objects.count() == 0


def test_submit_needs_post(signed_in_client, user):
    staged = StagedUploadFactory(user=user)
    assert signed_in_client.get(reverse("bulk:submit", args=[staged.pk])).status_code == 405


# --- Invalid rows download ----------------------------------------------------------------


def test_invalid_rows_download_is_a_csv_with_an_error_column(signed_in_client, user):
    staged = StagedUploadFactory(user=user, file_name="Q4 sites.xlsx")
    response = signed_in_client.get(reverse("bulk:invalid_rows", args=[staged.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Q4-sites-invalid-rows.csv"'
    text = response.content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        [*HEADER, "Error"],
        ["", "Boston", "MA", "02134", "Street address is missing"],
    ]


def test_invalid_rows_of_another_user_are_404(signed_in_client, other_user):
    staged = StagedUploadFactory(user=other_user)
    assert signed_in_client.get(reverse("bulk:invalid_rows", args=[staged.pk])).status_code == 404


def test_invalid_rows_of_an_expired_upload_are_gone(signed_in_client, user):
    staged = StagedUploadFactory(user=user, expires_at=timezone.now() - timedelta(minutes=1))
    response = signed_in_client.get(reverse("bulk:invalid_rows", args=[staged.pk]))
    assert response.status_code == 302


# --- Job page -----------------------------------------------------------------------------


def test_job_page_shows_status_progress_and_counts(signed_in_client, user):
    job = BatchJobFactory(
        user=user,
        status=BatchJob.Status.PROCESSING,
        total_count=10,
        processed_count=4,
        success_count=3,
        failed_count=1,
    )
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert '<span class="badge processing">Processing</span> 40% done' in page
    assert 'class="pct-40"' in page
    assert 'hx-trigger="every 3s"' in page


def test_finished_job_page_stops_polling(signed_in_client, user):
    job = BatchJobFactory(user=user, status=BatchJob.Status.COMPLETE)
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert "hx-trigger" not in page


def test_job_page_fragment_for_htmx(signed_in_client, user):
    job = BatchJobFactory(user=user)
    response = signed_in_client.get(
        reverse("bulk:job", args=[job.pk]), headers={"HX-Request": "true"}
    )
    assert response.content.decode().strip().startswith('<div id="job-progress"')
    assert "HX-Request" in response["Vary"]


def test_another_users_job_is_404(signed_in_client, other_user):
    job = BatchJobFactory(user=other_user)
    assert signed_in_client.get(reverse("bulk:job", args=[job.pk])).status_code == 404


# --- The whole flow with a 10,000-row file ------------------------------------------------


def test_ten_thousand_row_workbook_previews_and_submits(signed_in_client, user, dispatched):
    rows = [["Acme sites"], [], HEADER, *address_rows(10_000)]
    response = post_file(signed_in_client, xlsx_bytes(rows))
    staged = StagedUpload.objects.get()
    assert staged.status == StagedUpload.Status.READY
    assert response["Location"] == preview_url(staged)
    page = signed_in_client.get(preview_url(staged)).content.decode()
    assert "Quote 10,000 addresses" in page
    response = signed_in_client.post(reverse("bulk:submit", args=[staged.pk]))
    job = BatchJob.objects.get()
    assert response["Location"] == reverse("bulk:job", args=[job.pk])
    assert job.total_count == 10_000
    assert BatchQuote.objects.filter(batch_job=job).count() == 10_000
    assert BatchQuote.objects.get(batch_job=job, row_number=4).zip_code == "02134"


@pytest.mark.django_db
def test_a_job_id_too_large_for_the_database_is_a_404(signed_in_client):
    huge = "9" * 30
    assert signed_in_client.get(f"/bulk/{huge}/").status_code == 404
    assert signed_in_client.get(f"/bulk/{huge}/results.csv").status_code == 404
    assert signed_in_client.post(f"/bulk/{huge}/cancel/").status_code == 404
