import factory

from quotes.models import Lead, Quote
from quotes.services import intake, leases, lifecycle, seats


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
    seat = seats.free_seats()[0]
    assert lifecycle.claim_slot(quote_id=quote.pk, token=token, slot=seat.n, account=seat.account)
    return token


def ask_for_a_quote(
    user,
    *,
    street: str = "1 Main St",
    city: str = "Denver",
    state: str = "CO",
    zip_code: str = "80202",
    reuse: bool = False,
) -> Quote:
    """A single quote asked as the form asks it (quotes.services.intake), by a signed-in
    user or a visitor (user None), at 1 Gbps for 36 months."""
    return intake.request_quote(
        user=user,
        street_address=street,
        city=city,
        state=state,
        zip_code=zip_code,
        speed_mbps=1000,
        term_months=36,
        contact_name="Pat Doe",
        email="pat@example.com",
        phone="555-0100",
        company="Doe Inc",
        allow_reuse=reuse,
    )
