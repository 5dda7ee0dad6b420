"""Momentum's health as the engine sees it: a circuit breaker and the stop on a bad key.

The state is the one `MomentumHealth` row and nothing else, so every worker process on
every host sees the same failure count and the same pause (no per-process flags).
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
from momentum.errors import MomentumConfigurationError, MomentumError, error_kind
from quotes.models import MomentumErrorCount, MomentumHealth

logger = logging.getLogger(__name__)

# The breaker's pause doubles from MOMENTUM_DOWN_PAUSE up to this.
MAX_DOWN_PAUSE = 300.0


def get_health() -> MomentumHealth:
    """The health row, made on first use."""
    health, _ = MomentumHealth.objects.get_or_create(pk=1)
    return health


def down_pause(*, beyond: int) -> float:
    """The pause after `beyond` failures past the threshold: MOMENTUM_DOWN_PAUSE doubling
    to 5 minutes, with up to a quarter more on top so that hosts do not come back in step."""
    pause = min(MAX_DOWN_PAUSE, settings.MOMENTUM_DOWN_PAUSE * 2 ** max(0, beyond))
    return pause + random.uniform(0, pause / 4)  # noqa: S311 (jitter, not security)


def note_momentum_success() -> None:
    """Momentum answered: forget earlier failures (the update matches no row otherwise)."""
    MomentumHealth.objects.filter(pk=1, consecutive_failures__gt=0).update(
        consecutive_failures=0, paused_until=None, last_error="", failing_since=None
    )


def note_momentum_failure(*, error: MomentumError) -> bool:
    """Count a transient failure; past MOMENTUM_DOWN_AFTER pause the engine. True if paused.

    A 429 is no failure: Momentum answered, asking us to come back later (often our own
    retry of a call that timed out, refused while the first is still served). It is
    counted for /metrics only, and the caller waits its Retry-After."""
    get_health()
    count_momentum_error(error=error)
    if getattr(error, "busy", False):
        return False
    with transaction.atomic():
        MomentumHealth.objects.filter(pk=1).update(
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=error.message[:500],
            failing_since=Coalesce(F("failing_since"), Value(timezone.now())),
        )
        failures = MomentumHealth.objects.values_list("consecutive_failures", flat=True).get(pk=1)
        beyond = failures - settings.MOMENTUM_DOWN_AFTER
        if beyond < 0:
            return False
        pause = down_pause(beyond=beyond)
        MomentumHealth.objects.filter(pk=1).update(
            paused_until=timezone.now() + timedelta(seconds=pause)
        )
    logger.warning("Momentum looks unavailable (%s); pausing %.1f s", error.message, pause)
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


def pause_momentum(*, seconds: float) -> None:
    """Hold off new submissions (Momentum said a quote is already in flight)."""
    get_health()
    until = timezone.now() + timedelta(seconds=seconds)
    MomentumHealth.objects.filter(pk=1).filter(
        Q(paused_until__isnull=True) | Q(paused_until__lt=until)
    ).update(paused_until=until)


def stop_for_configuration(*, error: MomentumConfigurationError) -> None:
    """A wrong key stops all work until staff fix it and clear the error in admin."""
    get_health()
    count_momentum_error(error=error)
    MomentumHealth.objects.filter(pk=1).update(config_error=error.message[:1000])
    logger.error("Momentum refused our credentials; work is stopped: %s", error.message)


def clear_configuration_error() -> None:
    """Staff fixed the key: let work resume, and wake the engine."""
    get_health()
    MomentumHealth.objects.filter(pk=1).update(
        config_error="", paused_until=None, consecutive_failures=0
    )
    wake_engine()
