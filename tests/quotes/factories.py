import factory

from quotes.models import Lead, Quote
from quotes.services import leases, lifecycle


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    contact_name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    phone = "555-0142"
    company = "Acme Telecom"


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    lead = factory.SubFactory(LeadFactory)
    street_address = factory.Sequence(lambda n: f"{100 + n} Main St")
    city = "Austin"
    state = "TX"
    zip_code = "78701"


def claim(quote) -> str:
    """Claim a free slot for a pending quote, as dispatch does; the run's lease token."""
    token = leases.new_token()
    assert lifecycle.claim_slot(quote_id=quote.pk, token=token, slot=lifecycle.free_slots()[0])
    return token
