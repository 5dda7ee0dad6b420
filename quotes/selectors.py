from datetime import timedelta

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from quotes.models import MomentumHealth, Quote

# Upstream latency is the average time a quote held the slot over this many recent quotes.
LATENCY_SAMPLE = 50
QUOTES_PER_PAGE = 25


def next_waiting_quote() -> Quote | None:
    """The pending quote that goes next: single quotes before bulk rows, oldest first."""
    return (
        Quote.objects.waiting()
        .annotate(
            rank=Case(
                When(source=Quote.Source.SINGLE, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "created_at", "pk")
        .first()
    )


def quotes_ahead(*, quote: Quote) -> int:
    """How many quotes Momentum will price before this one starts."""
    if quote.status != Quote.Status.PENDING:
        return 0
    in_flight = Quote.objects.holding_slot().count()
    earlier_singles = (
        Quote.objects.waiting()
        .filter(source=Quote.Source.SINGLE, created_at__lt=quote.created_at)
        .count()
    )
    return in_flight + earlier_singles


def quote_for_viewer(*, public_id, user, session_quote_ids: list[str]) -> Quote | None:
    """A quote its viewer may see: their own, staff, or one made in this browser session."""
    quote = Quote.objects.select_related("lead").filter(public_id=public_id).first()
    if quote is None:
        return None
    owner_id = quote.lead.user_id
    if user.is_authenticated and (user.is_staff or owner_id == user.pk):
        return quote
    if str(quote.public_id) in session_quote_ids:
        return quote
    return None


def momentum_health() -> MomentumHealth:
    """The engine's view of Momentum, for banners on the dashboards."""
    return MomentumHealth.objects.filter(pk=1).first() or MomentumHealth(pk=1)


def momentum_is_down(health: MomentumHealth) -> bool:
    return bool(
        health.consecutive_failures >= settings.MOMENTUM_DOWN_AFTER
        and health.paused_until
        and health.paused_until > timezone.now()
    )


def upstream_latency(*, sample: int = LATENCY_SAMPLE) -> timedelta | None:
    """How long a quote holds the Momentum slot: the median of the most recent quotes."""
    spans = sorted(
        done - claimed
        for claimed, done in Quote.objects.filter(
            status__in=Quote.TERMINAL_STATUSES,
            claimed_at__isnull=False,
            completed_at__isnull=False,
        )
        # Newest by id: quotes are claimed in about the order they are created.
        .order_by("-pk")
        .values_list("claimed_at", "completed_at")[:sample]
    )
    if not spans:
        return None
    middle = len(spans) // 2
    median = spans[middle] if len(spans) % 2 else (spans[middle - 1] + spans[middle]) / 2
    return max(median, timedelta())


def quotes_page(*, user, page: object = 1, per_page: int = QUOTES_PER_PAGE) -> Page:
    """One page of the single quotes the user asked for, newest first."""
    mine = (
        Quote.objects.filter(source=Quote.Source.SINGLE, lead__user=user)
        .select_related("lead")
        .defer("raw_payload")
        .order_by("-created_at", "-pk")
    )
    return Paginator(mine, per_page).get_page(page)
