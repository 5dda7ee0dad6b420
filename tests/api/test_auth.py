"""Who may call the API: a bearer token from the profile page, or the browser session."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken
from accounts.services import hash_api_token, regenerate_api_token
from bulk.models import BatchJob
from tests.api.conftest import API
from tests.harness import create_job

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_is_served_without_signing_in(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Bulk Quotes API"
    assert {"/api/v1/uploads", "/api/v1/jobs/{job_id}/results.csv"} <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "SessionAuth"}


def test_the_api_docs_page_needs_no_cdn(client):
    page = client.get(f"{API}/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn." not in page


def test_no_credentials_answer_401(client):
    response = client.get(f"{API}/jobs")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized", "code": "unauthorized"}


@pytest.mark.parametrize("header", ["Bearer bq_not-a-real-token", "Bearer ", "Token abc"])
def test_a_wrong_token_answers_401(header):
    assert Client(headers={"Authorization": header}).get(f"{API}/jobs").status_code == 401


@pytest.mark.parametrize("header", ["Bearer bq_not-a-real-token", "Token abc", None])
def test_a_post_with_a_wrong_token_or_none_answers_401_not_a_csrf_error(user, header):
    job = create_job(user=user, rows=1)
    headers = {"Authorization": header} if header else {}
    program = Client(enforce_csrf_checks=True, headers=headers)
    response = program.post(f"{API}/jobs/{job.pk}/cancel")
    assert (response.status_code, response.json()["code"]) == (401, "unauthorized")
    job.refresh_from_db()
    assert job.status == BatchJob.Status.PENDING


def test_a_signed_in_browser_with_a_bad_token_is_refused_401(user):
    browser = Client(headers={"Authorization": "Bearer bq_stolen"})
    browser.force_login(user)
    assert browser.get(f"{API}/jobs").status_code == 401


def test_the_schema_lists_the_errors_each_endpoint_gives(client):
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    cancel = paths["/api/v1/jobs/{job_id}/cancel"]["post"]["responses"]
    assert {"401", "403", "404", "409"} <= set(cancel)
    assert set(paths["/api/v1/jobs"]["get"]["responses"]) == {"200", "400", "401", "414"}
    upload = paths["/api/v1/uploads"]["post"]
    assert {"400", "401", "403"} <= set(upload["responses"])
    file_field = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert "400" in file_field["file"]["description"]


def test_a_job_id_too_big_for_the_database_answers_404(api_client):
    assert api_client.get(f"{API}/jobs/{2**70}").status_code == 404


def test_a_token_signs_the_program_in(api_client, user):
    create_job(user=user, rows=1)
    response = api_client.get(f"{API}/jobs")
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_a_token_of_an_inactive_user_is_refused(api_client, user):
    user.is_active = False
    user.save()
    assert api_client.get(f"{API}/jobs").status_code == 401


def test_a_token_post_needs_no_csrf_token(user, token):
    job = create_job(user=user, rows=1)
    strict = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {token}"})
    assert strict.post(f"{API}/jobs/{job.pk}/cancel").status_code == 200


def test_the_browser_session_works_and_its_posts_need_the_csrf_token(user):
    job = create_job(user=user, rows=1)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get(f"{API}/jobs/{job.pk}").status_code == 200
    refused = browser.post(f"{API}/jobs/{job.pk}/cancel")
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    browser.get(reverse("bulk:job", args=[job.pk]))  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(f"{API}/jobs/{job.pk}/cancel", headers={"X-CSRFToken": csrf})
    assert response.status_code == 200


# --- The token on the profile page --------------------------------------------------------


def test_only_the_tokens_hash_is_stored(user):
    raw = regenerate_api_token(user=user)
    stored = ApiToken.objects.get(user=user)
    assert raw.startswith("bq_")
    assert len(raw) > 40
    assert stored.key_hash == hash_api_token(raw)
    assert raw not in (stored.key_hash, stored.prefix)


def test_the_profile_page_makes_a_token_and_shows_it_once(signed_in_client, user):
    page = signed_in_client.get(reverse("accounts:profile")).content.decode()
    assert "You have no API token." in page
    response = signed_in_client.post(reverse("accounts:api_token"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile") + "#api-token"
    shown = signed_in_client.get(response["Location"])
    raw = shown.context["new_token"]
    assert raw in shown.content.decode()
    assert 'data-copy-target="#new-api-token"' in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert ApiToken.objects.get(user=user).key_hash == hash_api_token(raw)
    again = signed_in_client.get(reverse("accounts:profile")).content.decode()
    assert raw not in again
    assert raw[:10] + "…" in again


def test_refreshing_the_page_after_making_a_token_makes_no_new_one(signed_in_client, user):
    made = signed_in_client.post(reverse("accounts:api_token"), follow=True)
    raw = made.context["new_token"]
    signed_in_client.get(reverse("accounts:profile"))  # the refresh is a GET now
    assert ApiToken.objects.get(user=user).key_hash == hash_api_token(raw)


def test_regenerating_the_token_retires_the_old_one(signed_in_client, user):
    old = regenerate_api_token(user=user)
    signed_in_client.post(reverse("accounts:api_token"))
    assert Client(headers={"Authorization": f"Bearer {old}"}).get(f"{API}/jobs").status_code == 401
    assert ApiToken.objects.filter(user=user).count() == 1


def test_a_revoked_token_is_refused(signed_in_client, user):
    raw = regenerate_api_token(user=user)
    response = signed_in_client.post(reverse("accounts:revoke_api_token"))
    assert response.status_code == 302
    assert not ApiToken.objects.filter(user=user).exists()
    assert Client(headers={"Authorization": f"Bearer {raw}"}).get(f"{API}/jobs").status_code == 401


def test_making_a_token_must_be_posted(signed_in_client):
    assert signed_in_client.get(reverse("accounts:api_token")).status_code == 405
