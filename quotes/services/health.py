"""Momentum's health as the engine sees it, per account: a circuit breaker, the cool-down
a 429 asks for, and the quarantine of a refused key.

The state is one `MomentumHealth` row per account and nothing else, so every worker
process on every host sees the same failure count and the same pause (no per-process
flags). One account's trouble stops only that account; the line waits for Momentum
only when every account is stopped (`quotes.selectors.momentum_health`).
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.celery import wake_engine
from momentum.accounts import DEFAULT
from momentum.errors import MomentumConfigurationError, MomentumError, error_kind
from quotes.models import MomentumErrorCount, MomentumHealth

logger = logging.getLogger(__name__)

# The breaker's pause doubles from MOMENTUM_DOWN_PAUSE up to this.
MAX_DOWN_PAUSE = 300.0


def get_health(account: str = DEFAULT) -> MomentumHealth:
    """The account's health row, made on first use. The one account's row is row 1, as
    it was before accounts were named."""
    attempts = [{"pk": 1}] if account == DEFAULT else []
    for fields in [*attempts, {}, {}, {}]:
        found = MomentumHealth.objects.filter(account=account).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return MomentumHealth.objects.create(account=account, **fields)
        except IntegrityError:
            # Another process made it first, or row 1 (or the id the sequence gave, on
            # PostgreSQL after row 1 was made by hand) is taken: look again, then retry.
            continue
    return MomentumHealth.objects.get(account=account)


def down_pause(*, beyond: int) -> float:
    """The pause after `beyond` failures past the threshold: MOMENTUM_DOWN_PAUSE doubling
    to 5 minutes, with up to a quarter more on top so that hosts do not come back in step."""
    pause = min(MAX_DOWN_PAUSE, settings.MOMENTUM_DOWN_PAUSE * 2 ** max(0, beyond))
    return pause + random.uniform(0, pause / 4)  # noqa: S311 (jitter, not security)


def note_momentum_success(account: str = DEFAULT) -> None:
    """Momentum answered: forget earlier failures (the update matches no row otherwise)."""
    MomentumHealth.objects.filter(account=account, consecutive_failures__gt=0).update(
        consecutive_failures=0, paused_until=None, last_error="", failing_since=None
    )


def note_momentum_failure(account: str = DEFAULT, *, error: MomentumError) -> bool:
    """Count a transient failure; past MOMENTUM_DOWN_AFTER pause the engine. True if paused.

    A 429 is no failure: Momentum answered, asking us to come back later (often our own
    retry of a call that timed out, refused while the first is still served). It is
    counted for /metrics only, and the caller waits its Retry-After."""
    get_health(account)
    count_momentum_error(error=error)
    if getattr(error, "busy", False):
        return False
    mine = MomentumHealth.objects.filter(account=account)
    with transaction.atomic():
        mine.update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=error.message[:500],
            failing_since=Coalesce(F("failing_since"), Value(timezone.now())),
        )
        failures = mine.values_list("consecutive_failures", flat=True).get()
        beyond = failures - settings.MOMENTUM_DOWN_AFTER
        if beyond < 0:
            return False
        pause = down_pause(beyond=beyond)
        mine.update(paused_until=timezone.now() + timedelta(seconds=pause))
    logger.warning(
        "Momentum looks unavailable to account %s (%s); pausing it %.1f s",
        account,
        error.message,
        pause,
    )
    return True


def count_momentum_error(*, error: MomentumError) -> None:
    """Count an error by kind (for /metrics)."""
    kind = error_kind(error)
    if not MomentumErrorCount.objects.filter(kind=kind).update(count=F("count") + 1):
        try:
            with transaction.atomic():
                MomentumErrorCount.objects.create(kind=kind, count=1)
        except IntegrityError:  # another process made the row first
            MomentumErrorCount.objects.filter(kind=kind).update(count=F("count") + 1)


def pause_momentum(account: str = DEFAULT, *, seconds: float) -> None:
    """Hold off the account's new submissions (Momentum said a quote is already in
    flight on it): it cools down for the Retry-After; the other accounts go on."""
    get_health(account)
    until = timezone.now() + timedelta(seconds=seconds)
    MomentumHealth.objects.filter(account=account).filter(
        Q(paused_until__isnull=True) | Q(paused_until__lt=until)
    ).update(paused_until=until)


def stop_for_configuration(account: str = DEFAULT, *, error: MomentumConfigurationError) -> None:
    """A refused key quarantines its account (no submit, no poll) until staff fix it and
    clear the error in admin; its quotes in flight keep their seats and are resumed then.
    Staff are alerted once per account (ops.checks)."""
    get_health(account)
    count_momentum_error(error=error)
    MomentumHealth.objects.filter(account=account).update(config_error=error.message[:1000])
    logger.error(
        "Momentum refused the key of account %s; it is quarantined: %s", account, error.message
    )


def clear_configuration_error(account: str = DEFAULT) -> None:
    """Staff fixed the account's key: let its work resume, and wake the engine."""
    get_health(account)
    MomentumHealth.objects.filter(account=account).update(
        config_error="", paused_until=None, consecutive_failures=0
    )
    wake_engine()


def set_staff_state(account: str, *, state: str) -> None:
    """Staff pause, drain or resume an account: it takes effect at the next submit."""
    get_health(account)
    MomentumHealth.objects.filter(account=account).update(staff_state=state)
    logger.warning("Momentum account %s is now %s (staff)", account, state)
    wake_engine()
