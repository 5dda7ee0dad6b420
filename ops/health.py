"""Readiness checks (django-health-check): database, cache and broker decide readiness;
Momentum is reported but never fails it. Answers name what failed, never how (no hosts,
users or errors from the drivers: those go to the log)."""

from __future__ import annotations

import dataclasses
import logging

from django.utils import timezone
from health_check import Cache, Database, HealthCheck
from health_check.exceptions import ServiceUnavailable, ServiceWarning

from config.celery import app
from quotes.selectors import momentum_health

logger = logging.getLogger(__name__)


def _quietly(check: HealthCheck, what: str) -> None:
    try:
        check.check_status()
    except Exception as error:  # a driver's own error, too (the database cache's)
        logger.warning("readiness: %s failed: %s", what, error)
        raise ServiceUnavailable(f"{what} unreachable") from None


@dataclasses.dataclass
class DatabaseReady(Database):
    def check_status(self):
        _quietly(Database(alias=self.alias), "database")

    def __repr__(self) -> str:
        return "Database"


@dataclasses.dataclass
class CacheReady(HealthCheck):
    def check_status(self):
        _quietly(Cache(cache_key=None), "cache")

    def __repr__(self) -> str:
        return "Cache"


@dataclasses.dataclass
class BrokerReady(HealthCheck):
    """The Celery broker accepts a connection."""

    def check_status(self):
        try:
            with app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=3)
        except Exception as error:
            logger.warning("readiness: broker failed: %s", error)
            raise ServiceUnavailable("broker unreachable") from None

    def __repr__(self) -> str:
        return "Broker"


@dataclasses.dataclass
class MomentumState(HealthCheck):
    """Momentum as the engine last saw it: reported, never failing readiness (the portal
    serves pages and takes uploads while Momentum is down; work waits and resumes)."""

    def __post_init__(self):
        self.critical_service = False

    def check_status(self):
        try:
            health = momentum_health()
        except Exception:
            raise ServiceWarning("unknown (no database)") from None
        if health.config_error:
            raise ServiceWarning("API key refused; work is stopped")
        if health.paused_until and health.paused_until > timezone.now():
            raise ServiceWarning("unavailable; the engine is paused and retries")
        if health.consecutive_failures:
            raise ServiceWarning(f"{health.consecutive_failures} failures in a row")

    def __repr__(self) -> str:
        return "Momentum"
