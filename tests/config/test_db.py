"""config.db's bulk insert and array lookup: what bulk_create and `__in` would give."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.db import insert_all, one_of
from quotes.models import Quote
from tests.quotes.factories import LeadFactory

pytestmark = pytest.mark.django_db


def quote_fields(lead, street: str, **fields) -> dict:
    return {
        "lead": lead,
        "organization_id": lead.user.organization_id,
        "source": Quote.Source.BULK,
        "street_address": street,
        "city": "BOSTON",
        "state": "MA",
        "zip_code": "02134",
        "address_key": f"{street}||BOSTON|MA|02134",
        **fields,
    }


def test_insert_all_returns_the_keys_in_the_order_of_the_rows(user):
    lead = LeadFactory(user=user)
    streets = [f"{n} MAIN ST" for n in range(1, 8)]
    keys = insert_all(Quote, [quote_fields(lead, street) for street in streets])
    saved = Quote.objects.in_bulk(keys)
    assert [saved[key].street_address for key in keys] == streets


def test_insert_all_gives_left_out_fields_their_defaults_each_row_its_own(user):
    lead = LeadFactory(user=user)
    before = timezone.now()
    keys = insert_all(Quote, [quote_fields(lead, "1 MAIN ST"), quote_fields(lead, "2 MAIN ST")])
    first, second = Quote.objects.filter(pk__in=keys).order_by("pk")
    assert (first.status, first.speed_mbps, first.term_months) == ("pending", 1000, 36)
    assert (first.mrc, first.raw_payload, first.momentum_slot, first.taken_from) == (None,) * 4
    assert first.idempotency_key != second.idempotency_key
    assert first.public_id != second.public_id
    assert before <= first.created_at <= first.updated_at <= timezone.now()


def test_insert_all_saves_given_values_and_related_objects(user):
    lead = LeadFactory(user=user)
    source = Quote.objects.get(pk=insert_all(Quote, [quote_fields(lead, "1 MAIN ST")])[0])
    done = timezone.now() - timedelta(days=1)
    fields = {"status": "complete", "mrc": "12.5", "taken_from": source, "completed_at": done}
    (key,) = insert_all(Quote, [quote_fields(lead, "1 MAIN ST", **fields)])
    taker = Quote.objects.get(pk=key)
    assert (taker.status, str(taker.mrc), taker.taken_from, taker.completed_at) == (
        "complete",
        "12.50",
        source,
        done,
    )


def test_one_of_filters_as_in_does(user):
    lead = LeadFactory(user=user)
    keys = insert_all(Quote, [quote_fields(lead, f"{n} MAIN ST") for n in range(1, 5)])
    wanted = ["1 MAIN ST", "3 MAIN ST", "9 MAIN ST"]
    found = Quote.objects.filter(one_of("street_address", wanted), pk__in=keys)
    assert sorted(found.values_list("street_address", flat=True)) == ["1 MAIN ST", "3 MAIN ST"]
