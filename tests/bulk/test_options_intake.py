"""Asking for several speed/term options (issue 21): the upload form, the API and
`submit_batch`; the preview and the job page say what the options cost."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from bulk import selectors
from bulk.models import BatchJob, StagedUpload
from bulk.services.uploads import submit_staged_upload
from tests.bulk.conftest import csv_bytes, upload

pytestmark = pytest.mark.django_db

SITES = [["Street", "City", "State", "ZIP"]] + [
    [f"{n} Main St", "Denver", "CO", "80202"] for n in range(1, 4)
]


def post_form(client, **fields):
    form = {"speed_mbps": 1000, "term_months": 36, "notify_email": "on"} | fields
    return client.post(reverse("bulk:index"), {**form, "file": upload(csv_bytes(SITES), "s.csv")})


def test_the_upload_form_takes_more_options(signed_in_client):
    response = post_form(signed_in_client, more_options="500x60, 1G x 2 yr")
    assert response.status_code == 302
    staged = StagedUpload.objects.get()
    assert staged.options == [
        {"speed_mbps": 1000, "term_months": 36},
        {"speed_mbps": 500, "term_months": 60},
        {"speed_mbps": 1000, "term_months": 24},
    ]


def test_the_preview_says_what_the_options_cost(signed_in_client):
    post_form(signed_in_client, more_options="500x60")
    staged = StagedUpload.objects.get()
    page = signed_in_client.get(reverse("bulk:preview", args=[staged.pk])).content.decode()
    assert "Options: 1 Gbps · 36 mo, 500 Mbps · 60 mo" in page
    assert "2 options \u00d7 3 addresses = 6 quotes, about" in page
    assert "first prices for every site in about" in page


def test_the_job_page_shows_each_rows_options(signed_in_client, user):
    post_form(signed_in_client, more_options="500x60")
    job = submit_staged_upload(staged=StagedUpload.objects.get(), user=user)
    page = signed_in_client.get(reverse("bulk:job", args=[job.pk])).content.decode()
    assert page.count('data-testid="option"') == 6
    assert "2 options \u00d7 3 addresses = 6 quotes" in page
    # Side by side: one line per uploaded row, its two options in it.
    table = page.split('<table class="results options">')[1].split("</table>")[0]
    lines = table.split("<tbody>")[1].split("</tr>")[:-1]
    assert len(lines) == 3
    assert all(line.count('data-testid="option"') == 2 for line in lines)
    assert "1 Gbps · 36 mo" in lines[0]
    assert "500 Mbps · 60 mo" in lines[0]


def test_an_unsold_option_is_refused_with_the_reason(signed_in_client):
    response = post_form(signed_in_client, more_options="750x36")
    assert response.status_code == 200
    assert "Speed &#x27;750&#x27; is not one Momentum sells: 500 Mbps or 1 Gbps?" in (
        response.content.decode()
    )
    assert not StagedUpload.objects.exists()


def test_more_than_four_options_are_refused(signed_in_client):
    response = post_form(signed_in_client, more_options="100x12, 200x12, 500x12, 2000x12")
    assert "at most 4" in response.content.decode()
    assert not StagedUpload.objects.exists()


def submit_batch(tmp_path, user, *args: str) -> str:
    path = tmp_path / "sites.csv"
    path.write_bytes(csv_bytes(SITES))
    out = StringIO()
    call_command("submit_batch", str(path), "--user", user.email, *args, stdout=out)
    return out.getvalue()


def test_submit_batch_takes_options(tmp_path, user):
    submit_batch(tmp_path, user, "--option", "1000x36", "--option", "500x60")
    job = BatchJob.objects.get()
    assert job.total_count == 6
    assert [o.label for o in job.option_list] == ["1 Gbps · 36 mo", "500 Mbps · 60 mo"]


def test_submit_batch_dry_run_says_what_options_cost(tmp_path, user):
    out = submit_batch(tmp_path, user, "--dry-run", "--option", "1000x36", "--option", "500x60")
    assert "2 options \u00d7 3 addresses = 6 quotes" in out
    assert not BatchJob.objects.exists()


def test_submit_batch_refuses_an_unsold_option(tmp_path, user):
    with pytest.raises(CommandError, match="Term '48' is not one Momentum sells"):
        submit_batch(tmp_path, user, "--option", "1000x48")
    assert not BatchJob.objects.exists()


def test_the_preview_shows_each_rows_own_speed_and_term(signed_in_client):
    sites = [["Street", "City", "State", "ZIP", "Bandwidth", "Term"]]
    sites += [["1 Main St", "Denver", "CO", "80202", "500M", "5 yr"]]
    sites += [["2 Main St", "Denver", "CO", "80202", "", ""]]
    form = {"speed_mbps": 1000, "term_months": 36, "notify_email": "on"}
    form["file"] = upload(csv_bytes(sites), "s.csv")
    signed_in_client.post(reverse("bulk:index"), form)
    staged = StagedUpload.objects.get()
    page = signed_in_client.get(reverse("bulk:preview", args=[staged.pk])).content.decode()
    assert "speed from “Bandwidth”" in page
    assert '<td data-testid="speed-term">500 Mbps · 60 mo</td>' in page
    # Empty cells: the job's speed and term.
    assert '<td data-testid="speed-term">1 Gbps · 36 mo</td>' in page


def test_the_preview_of_a_file_without_speed_shows_no_speed_column(signed_in_client):
    post_form(signed_in_client)
    staged = StagedUpload.objects.get()
    page = signed_in_client.get(reverse("bulk:preview", args=[staged.pk])).content.decode()
    assert 'data-testid="speed-term"' not in page


def test_a_page_of_the_job_holds_whole_addresses(signed_in_client, user):
    post_form(signed_in_client, more_options="500x60, 1000x24")
    job = submit_staged_upload(staged=StagedUpload.objects.get(), user=user)
    page = selectors.rows_page(job=job, counts={}, page=1)
    assert page.paginator.per_page == 48  # 16 addresses of 3 options, not 50 rows
