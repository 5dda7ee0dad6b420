from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from config.db import one_of
from momentum.accounts import accounts
from quotes.models import REUSABLE, MomentumHealth, Quote

# Address keys per IN (...) lookup: a job within BULK_MAX_ROWS is one lookup (SQLite
# allows 32,766 parameters a statement; PostgreSQL's client-side binding, no limit).
KEYS_PER_QUERY = 30_000
LIVE_STATUSES = (Quote.Status.PENDING, Quote.Status.SUBMITTING, Quote.Status.IN_FLIGHT)

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


def account_health() -> dict[str, MomentumHealth]:
    """Each configured account's health row (unsaved when none was written yet)."""
    rows = {row.account: row for row in MomentumHealth.objects.all()}
    return {a.name: rows.get(a.name) or MomentumHealth(account=a.name) for a in accounts()}


def momentum_health() -> MomentumHealth:
    """The engine's view of Momentum as a whole, for the line and the dashboards' banners:
    with one account, its row; with several, Momentum is stopped for a key only when
    every account still in use is, and down only when every one is (one account's
    trouble shows on the queue page, and the others carry the work)."""
    rows = account_health()
    if len(rows) == 1:
        return next(iter(rows.values()))
    active = MomentumHealth.StaffState.ACTIVE
    in_use = [row for row in rows.values() if row.staff_state == active] or list(rows.values())
    working = [row for row in in_use if not row.config_error]
    if not working:
        refused = "; ".join(f"account {row.account}: {row.config_error}" for row in in_use)
        return MomentumHealth(account="*", config_error=refused)
    best = min(working, key=lambda row: row.consecutive_failures)
    return MomentumHealth(
        account="*",
        consecutive_failures=best.consecutive_failures,
        last_error=best.last_error,
        failing_since=best.failing_since,
        paused_until=best.paused_until if best.consecutive_failures else None,
        updated_at=max((row.updated_at for row in working if row.updated_at), default=None),
    )


def momentum_is_down(health: MomentumHealth) -> bool:
    return bool(
        health.consecutive_failures >= settings.MOMENTUM_DOWN_AFTER
        and health.paused_until
        and health.paused_until > timezone.now()
    )


def quotes_page(*, user, page: object = 1, per_page: int = QUOTES_PER_PAGE) -> Page:
    """One page of the single quotes the user asked for, newest first."""
    mine = (
        Quote.objects.filter(source=Quote.Source.SINGLE, lead__user=user)
        .select_related("lead")
        .defer("raw_payload")
        .order_by("-created_at", "-pk")
    )
    return Paginator(mine, per_page).get_page(page)


def reuse_cutoff(days: int):
    """The oldest finish a quote may have to be reused under a window of `days`."""
    return timezone.now() - timedelta(days=days)


def reusable_quote(
    *, organization_id: int, address_key: str, speed_mbps: int, term_months: int, days: int
) -> Quote | None:
    """The latest quote Momentum answered for this address, speed and term within `days`
    (a price or a refusal about the address; never a timeout or an outage), or None."""
    if days <= 0 or not address_key:
        return None
    return (
        Quote.objects.for_organization(organization_id)
        .reusable()
        .filter(
            address_key=address_key,
            speed_mbps=speed_mbps,
            term_months=term_months,
            completed_at__gte=reuse_cutoff(days),
        )
        .order_by("-completed_at")
        .first()
    )


def answer_for(
    *, organization_id: int, address_key: str, speed_mbps: int, term_months: int, days: int
) -> tuple[Quote | None, Quote | None]:
    """In one query: the quote to reuse for this address, speed and term (as
    `reusable_quote`), else the quote on its way to Momentum to wait on (as
    `live_quotes`); (reusable, None), (None, live) or (None, None)."""
    if not address_key:
        return None, None
    reusable = REUSABLE & Q(completed_at__gte=reuse_cutoff(days))
    live = Q(taken_from__isnull=True, status__in=LIVE_STATUSES)
    found = list(
        Quote.objects.for_organization(organization_id)
        .filter(address_key=address_key, speed_mbps=speed_mbps, term_months=term_months)
        .filter((reusable | live) if days > 0 else live)
    )
    done = [q for q in found if q.status in Quote.TERMINAL_STATUSES]
    if done:
        return max(done, key=lambda q: q.completed_at), None
    waiting = [q for q in found if q.status in LIVE_STATUSES]
    return None, min(waiting, key=lambda q: q.pk) if waiting else None


def reusable_keys(
    *, organization_id: int, keys: Iterable[str], speed_mbps: int, term_months: int, days: int
) -> dict:
    """Of these address keys, those with a reusable quote: key to the latest such quote."""
    found: dict[str, Quote] = {}
    keys = [k for k in set(keys) if k]
    if days <= 0:
        return found
    cutoff = reuse_cutoff(days)
    for start in range(0, len(keys), KEYS_PER_QUERY):
        quotes = (
            Quote.objects.for_organization(organization_id)
            .reusable()
            .filter(
                one_of("address_key", keys[start : start + KEYS_PER_QUERY]),
                speed_mbps=speed_mbps,
                term_months=term_months,
                completed_at__gte=cutoff,
            )
            .order_by("completed_at")
        )
        for quote in quotes:
            found[quote.address_key] = quote  # the latest wins
    return found


def live_quotes(
    *,
    organization_id: int,
    keys: Iterable[str],
    speed_mbps: int,
    term_months: int,
    lock: bool = False,
) -> dict:
    """Of these address keys, those with a quote on its way to Momentum (waiting for the
    slot or in flight): key to that quote. With `lock`, locked until the caller's
    transaction ends, so the quote cannot finish before rows that wait on it are saved
    (without it, the bulk sweeper settles a row that missed the end)."""
    keys = [k for k in set(keys) if k]
    found: dict[str, Quote] = {}
    for start in range(0, len(keys), KEYS_PER_QUERY):
        quotes = (
            Quote.objects.for_organization(organization_id)
            .live()
            .filter(
                one_of("address_key", keys[start : start + KEYS_PER_QUERY]),
                speed_mbps=speed_mbps,
                term_months=term_months,
            )
            .order_by("pk")
        )
        if lock:
            quotes = quotes.select_for_update()
        for quote in quotes:
            found.setdefault(quote.address_key, quote)
    return found


def recent_pricing_times(*, limit: int) -> list[tuple[float | None, float | None]]:
    """When Momentum priced the latest measured quotes: (after, by) seconds after submit."""
    return list(
        Quote.objects.filter(status=Quote.Status.COMPLETE, pricing_high_seconds__isnull=False)
        .order_by("-pk")
        .values_list("pricing_low_seconds", "pricing_high_seconds")[:limit]
    )


def ended_with_waiting_takers():
    """Quotes that ended (or went overdue) while quotes waiting on them were never given
    the outcome (a staff repair ended them, say)."""
    return Quote.objects.filter(
        status__in=(*Quote.TERMINAL_STATUSES, Quote.Status.OVERDUE),
        takers__status=Quote.Status.QUEUED,
        takers__taken_as=Quote.Taken.SHARED,
    ).distinct()
