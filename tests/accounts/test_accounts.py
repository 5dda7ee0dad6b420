import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD


@pytest.mark.django_db
def test_users_sign_in_with_their_email_in_any_case(client, user):
    response = client.post(
        reverse("accounts:login"), {"username": user.email.upper(), "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("bulk:index")


@pytest.mark.django_db
def test_wrong_password_shows_an_error_and_signs_nobody_in(client, user):
    response = client.post(reverse("accounts:login"), {"username": user.email, "password": "nope"})
    assert response.status_code == 200
    assert b"correct email" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_create_user_normalises_the_email_and_hashes_the_password():
    user = User.objects.create_user("Someone@Example.COM", "pw-123456789")
    assert user.email == "someone@example.com"
    assert user.check_password("pw-123456789")
    assert not user.is_staff


@pytest.mark.django_db
def test_createsuperuser_takes_an_email():
    call_command("createsuperuser", "--noinput", "--email", "boss@example.com")
    boss = User.objects.get(email="boss@example.com")
    assert boss.is_staff
    assert boss.is_superuser


@pytest.mark.django_db
def test_profile_form_saves_the_contact_details(signed_in_client, user):
    response = signed_in_client.post(
        reverse("accounts:profile"),
        {"full_name": "Ada Lovelace", "company": "Engines Ltd", "phone": "555-0199"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.company, user.phone) == ("Ada Lovelace", "Engines Ltd", "555-0199")


@pytest.mark.django_db
def test_profile_form_rejects_an_over_long_name(signed_in_client, user):
    response = signed_in_client.post(
        reverse("accounts:profile"), {"full_name": "x" * 151, "company": "", "phone": ""}
    )
    assert response.status_code == 200
    assert b"at most 150 characters" in response.content


@pytest.mark.django_db
def test_sign_out_ends_the_session(signed_in_client):
    response = signed_in_client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in signed_in_client.session


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/bulk/", "/accounts/profile/", "/"])
def test_pages_behind_sign_in_redirect_anonymous_users(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_admin_refuses_anonymous_and_non_staff_users(client, user):
    assert client.get("/admin/").status_code == 302
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response.url


@pytest.mark.django_db
def test_navigation_shows_admin_only_to_staff(client, user, staff_user):
    client.force_login(user)
    assert b">Admin<" not in client.get("/bulk/").content
    client.force_login(staff_user)
    assert b">Admin<" in client.get("/bulk/").content


@pytest.mark.django_db
def test_ensure_demo_user_creates_the_login_once(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("ensure_demo_user")
    first = capsys.readouterr().out
    call_command("ensure_demo_user")
    second = capsys.readouterr().out
    password = (tmp_path / "demo-login.txt").read_text().strip()
    assert User.objects.filter(email="demo@example.com").count() == 1
    assert User.objects.get(email="demo@example.com").check_password(password)
    assert password in first
    assert password in second
