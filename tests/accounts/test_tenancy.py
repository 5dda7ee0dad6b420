"""Tenancy of prices (issue 18, item 8): a quote reuses, waits on and shows the reference
of quotes of its own organisation only."""

import pytest
from django.urls import reverse

from accounts.models import DEFAULT_ORGANIZATION_NAME, Organization, default_organization
from bulk import exports
from bulk.models import StagedUpload
from quotes import selectors
from quotes.models import Lead, Quote
from quotes.services import intake, sharing
from tests.bulk.test_reuse import SITES, answered, post_sites, street
from tests.factories import UserFactory
from tests.harness import create_job
from tests.quotes.factories import ask_for_a_quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def outsider():
    """A user of another organisation than the default one."""
    return UserFactory(organization=Organization.objects.create(name="Other Networks"))


def key(number: int) -> str:
    return intake.address_key(
        street=f"{number} Main St", city="Denver", state="CO", zip_code="80202"
    )


def on_its_way(*, number: int) -> Quote:
    """A quote of the default organisation waiting for the slot for `number` Main St."""
    lead = Lead.objects.create(contact_name="Someone", email="someone@example.com")
    return Quote.objects.create(
        lead=lead,
        status=Quote.Status.PENDING,
        street_address=f"{number} MAIN ST",
        city="Denver",
        state="CO",
        zip_code="80202",
        address_key=key(number),
    )


def test_a_fresh_install_has_the_default_organisation_and_new_users_join_it():
    # Made by the data migration, before any user.
    assert Organization.objects.filter(name=DEFAULT_ORGANIZATION_NAME).count() == 1
    user = UserFactory()
    assert user.organization == default_organization()


def test_a_quote_belongs_to_its_users_organisation_and_a_visitors_to_the_default(outsider):
    job = create_job(user=outsider, rows=1)
    assert job.rows.get().quote.organization == outsider.organization
    visitor = ask_for_a_quote(None)
    assert visitor.organization == default_organization()


def test_the_selectors_see_only_quotes_of_the_organisation(outsider):
    answered(number=1)  # default organisation
    other = outsider.organization.pk
    mine = default_organization().pk
    args = {"speed_mbps": 1000, "term_months": 36, "days": 30}
    assert selectors.reusable_quote(organization_id=mine, address_key=key(1), **args)
    assert selectors.reusable_quote(organization_id=other, address_key=key(1), **args) is None
    assert selectors.reusable_keys(organization_id=mine, keys=[key(1)], **args)
    assert selectors.reusable_keys(organization_id=other, keys=[key(1)], **args) == {}
    assert selectors.answer_for(organization_id=other, address_key=key(1), **args) == (None, None)
    live = on_its_way(number=2)
    del args["days"]
    assert selectors.live_quotes(organization_id=mine, keys=[key(2)], **args) == {key(2): live}
    assert selectors.live_quotes(organization_id=other, keys=[key(2)], **args) == {}


def test_sharing_never_hands_a_quote_to_another_organisation(outsider):
    source = answered(number=1)
    lead = Lead.objects.create(user=outsider, contact_name="O", email=outsider.email)
    address = intake.QuoteAddress("1 Main St", "Denver", "CO", "80202")
    queued = intake.queue_quote(lead=lead, address=address, speed_mbps=1000, term_months=36)
    assert queued.organization == outsider.organization
    assert not sharing.take_answer(quote_id=queued.pk, source=source)
    live = on_its_way(number=1)
    assert sharing.wait_on(quote_ids=[queued.pk], source=live) == 0
    queued.refresh_from_db()
    assert (queued.status, queued.taken_from) == (Quote.Status.QUEUED, None)


def test_another_organisations_job_neither_reuses_nor_waits_nor_shows_the_reference(outsider):
    answered(number=1)
    on_its_way(number=2)
    job = create_job(user=outsider, rows=2, street_for=street)
    quotes = Quote.objects.filter(batch_row__batch_job=job)
    assert set(quotes.values_list("status", "taken_from")) == {(Quote.Status.QUEUED, None)}
    lines = list(exports.result_rows(job=job))
    assert not any("MQ-" in str(cell) for line in lines for cell in line)
    # The same rows in the default organisation take both.
    mine = create_job(user=UserFactory(), rows=2, street_for=street)
    taken = Quote.objects.filter(batch_row__batch_job=mine)
    assert set(taken.values_list("taken_as", flat=True)) == {"reused", "shared"}


def test_the_preview_counts_reusable_rows_of_the_organisation_only(client, outsider):
    answered(number=2)
    for user, reusable in ((outsider, 0), (UserFactory(), 1)):
        client.force_login(user)
        post_sites(client, SITES)
        staged = StagedUpload.objects.filter(user=user).get()
        response = client.get(reverse("bulk:preview", args=[staged.pk]))
        assert response.context["reusable"] == reusable
