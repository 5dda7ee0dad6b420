"""The Content-Security-Policy, and pages that keep to it (no inline script or style)."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.bulk.conftest import BatchJobFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# Email bodies are read by mail programs, not served under the policy.
SERVED = [
    path
    for path in TEMPLATES.rglob("*.html")
    if "email" not in path.parts and path.name != "500.html"
]
INLINE = re.compile(r"""\sstyle=|\son[a-z]+=|<script(?![^>]*\ssrc=)[^>]*>|<style""", re.I)


@pytest.mark.parametrize("template", SERVED, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_script_style_or_event_handlers(template):
    assert not INLINE.findall(template.read_text())


@pytest.mark.django_db
def test_pages_carry_the_policy(signed_in_client, user):
    job = BatchJobFactory(user=user)
    for url in [reverse("bulk:index"), reverse("bulk:job", args=[job.pk]), "/accounts/login/"]:
        policy = signed_in_client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "unsafe-inline" not in policy


@pytest.mark.django_db
def test_rendered_pages_have_no_inline_script_or_style(signed_in_client, user):
    job = BatchJobFactory(user=user, total_count=4, processed_count=1, success_count=1)
    for url in [
        reverse("bulk:index"),
        reverse("bulk:jobs"),
        reverse("bulk:job", args=[job.pk]),
        reverse("accounts:profile"),
        reverse("quotes:new"),
        reverse("quotes:mine"),
    ]:
        page = signed_in_client.get(url).content.decode()
        assert not INLINE.findall(page), url


@pytest.mark.django_db
def test_htmx_is_told_not_to_inject_its_indicator_style(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles": false}'>""" in page


@pytest.mark.django_db
def test_every_page_has_a_favicon(client):
    page = client.get(reverse("accounts:login")).content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response.url == "/static/favicon.svg"


@pytest.mark.django_db
def test_an_unknown_address_gets_a_plain_404_without_the_url_list(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found" in response.content
    assert b"URLconf" not in response.content
