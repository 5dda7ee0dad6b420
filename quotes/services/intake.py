"""How quotes come in and leave the line before Momentum is asked: a single quote asked
for on the page, a job's rows queued at submission (each answered by a recent quote,
waiting on a live one, or waiting for its turn), and queued quotes withdrawn.

The engine starts them (quotes.services.lifecycle); `config.celery.wake_engine` tells it
there is work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import default_organization
from config.celery import wake_engine
from config.db import insert_all
from quotes import selectors
from quotes.addresses import normalise_address
from quotes.models import Lead, Quote
from quotes.outcomes import Outcome, outcome_of
from quotes.services.sharing import answer_from, mark_has_takers
from quotes.signals import announce_finished

WAITING_STATUSES = (Quote.Status.PENDING, Quote.Status.QUEUED)


def organization_id_of(lead: Lead) -> int:
    """The organisation a lead's quotes belong to: its user's; a visitor's single quote
    belongs to the default organisation (docs/architecture.md, "Tenancy")."""
    if lead.user_id is not None:
        return lead.user.organization_id
    return default_organization().pk


@dataclass(frozen=True)
class QuoteAddress:
    """Where a queued quote is for; `key` is the address's identity, if already known."""

    street_address: str
    city: str
    state: str
    zip_code: str
    key: str = ""


def address_key(*, street: str, city: str, state: str, zip_code: str) -> str:
    """The address's identity for reuse and sharing (USPS normalisation)."""
    return normalise_address(street=street, city=city, state=state, zip_code=zip_code).key


@transaction.atomic
def request_quote(
    *,
    user,
    street_address: str,
    city: str,
    state: str,
    zip_code: str,
    speed_mbps: int,
    term_months: int,
    contact_name: str,
    email: str,
    phone: str,
    company: str,
    allow_reuse: bool = False,
) -> Quote:
    """Create a lead and its single quote, and ask the engine to start it; with
    `allow_reuse`, a quote Momentum answered for the same address, speed and term within
    QUOTE_REUSE_DAYS answers it at once instead."""
    lead = Lead.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        contact_name=contact_name,
        email=email,
        phone=phone,
        company=company,
    )
    # In USPS form, as bulk rows are: reused, shared and sent upstream as one address
    # however it was typed.
    address = normalise_address(street=street_address, city=city, state=state, zip_code=zip_code)
    key = address.key
    organization_id = organization_id_of(lead)
    fields = {
        "lead": lead,
        "organization_id": organization_id,
        "source": Quote.Source.SINGLE,
        "street_address": address.street,
        "city": address.city,
        "state": address.state,
        "zip_code": address.zip_code,
        "address_key": key,
        "speed_mbps": speed_mbps,
        "term_months": term_months,
    }
    source = None
    if allow_reuse:
        source = selectors.reusable_quote(
            organization_id=organization_id,
            address_key=key,
            speed_mbps=speed_mbps,
            term_months=term_months,
            days=settings.QUOTE_REUSE_DAYS,
        )
    if source is not None:
        quote = Quote.objects.create(**fields, **answer_from(source, taken_as=Quote.Taken.REUSED))
        announce_finished(quote.pk)  # answered at once, as a quote Momentum ended is
        return quote
    quote = Quote.objects.create(**fields)
    wake_engine()
    return quote


def create_lead_for(*, user) -> Lead:
    """A lead built from a user's profile (a bulk job's contact)."""
    return Lead.objects.create(
        user=user,
        contact_name=user.full_name or user.email,
        email=user.email,
        phone=user.phone,
        company=user.company,
    )


def _queued_fields(
    *, lead: Lead, address: QuoteAddress, speed_mbps: int, term_months: int, organization_id: int
):
    return {
        "lead": lead,
        "organization_id": organization_id,
        "source": Quote.Source.BULK,
        "status": Quote.Status.QUEUED,
        "street_address": address.street_address,
        "city": address.city,
        "state": address.state,
        "zip_code": address.zip_code,
        "address_key": address.key
        or address_key(
            street=address.street_address,
            city=address.city,
            state=address.state,
            zip_code=address.zip_code,
        ),
        "speed_mbps": speed_mbps,
        "term_months": term_months,
    }


def queue_quote(*, lead: Lead, address: QuoteAddress, speed_mbps: int, term_months: int):
    """One bulk quote waiting for its turn (a row retried by a person gets a new one)."""
    return Quote.objects.create(
        **_queued_fields(
            lead=lead,
            address=address,
            speed_mbps=speed_mbps,
            term_months=term_months,
            organization_id=organization_id_of(lead),
        )
    )


class QueuedQuote(NamedTuple):
    """A quote `queue_quotes` made: how it started (`taken_as`: reused, shared or not
    taken) and, reused, the answer it took (a tuple: a job makes thousands)."""

    pk: int
    address_key: str
    taken_as: str
    outcome: Outcome | None = None


def queue_quotes(
    *,
    lead: Lead,
    addresses: list[QuoteAddress],
    speed_mbps: int,
    term_months: int,
    reuse_days: int,
) -> list[QueuedQuote]:
    """A job's quotes, one per address, in a bulk insert (caller's transaction).

    An address Momentum answered within `reuse_days` takes that answer at once (reused);
    one on its way to Momentum for another quote waits on it (shared); the rest wait for
    their turn (`queued`). The quotes come back in the order of `addresses`.
    """
    organization_id = organization_id_of(lead)
    fields = [
        _queued_fields(
            lead=lead,
            address=a,
            speed_mbps=speed_mbps,
            term_months=term_months,
            organization_id=organization_id,
        )
        for a in addresses
    ]
    keys = {f["address_key"] for f in fields}
    reusable = selectors.reusable_keys(
        organization_id=organization_id,
        keys=keys,
        speed_mbps=speed_mbps,
        term_months=term_months,
        days=reuse_days,
    )
    live = selectors.live_quotes(
        organization_id=organization_id,
        keys=keys - reusable.keys(),
        speed_mbps=speed_mbps,
        term_months=term_months,
        # A quote ending now must see these quotes: its recording waits for this commit.
        lock=True,
    )
    now = timezone.now()
    answers = {key: outcome_of(source) for key, source in reusable.items()}
    for f in fields:
        if f["address_key"] in reusable:
            f |= answer_from(reusable[f["address_key"]], taken_as=Quote.Taken.REUSED, now=now)
        elif f["address_key"] in live:
            f |= {"taken_from": live[f["address_key"]], "taken_as": Quote.Taken.SHARED}
    pks = insert_all(Quote, fields)
    shared = {f["taken_from"].pk for f in fields if f.get("taken_as") == Quote.Taken.SHARED}
    mark_has_takers(quote_ids=shared)
    return [
        QueuedQuote(pk, f["address_key"], f.get("taken_as", ""), answers.get(f["address_key"]))
        for pk, f in zip(pks, fields, strict=True)
    ]


def withdraw_quotes(*, quote_ids: list[int], message: str, keep_if_waited_on: bool) -> int:
    """Fail quotes still waiting for the slot (their row was cancelled or requeued) with
    `message`. With `keep_if_waited_on`, a quote other quotes wait on stays in line: it
    is still asked for them."""
    waiting = Quote.objects.filter(pk__in=quote_ids, status__in=WAITING_STATUSES)
    if keep_if_waited_on:
        takers = Quote.objects.filter(
            taken_from=OuterRef("pk"), status=Quote.Status.QUEUED, taken_as=Quote.Taken.SHARED
        )
        waiting = waiting.exclude(Exists(takers))
    return waiting.update(
        status=Quote.Status.FAILED, error_message=message, completed_at=timezone.now()
    )
