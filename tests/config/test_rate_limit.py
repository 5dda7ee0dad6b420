"""config.rate_limit: a sliding-window count in the shared cache."""

import pytest
from django.core.cache import cache, caches

from config import rate_limit
from tests.quotes.test_throttling import clock

pytestmark = pytest.mark.django_db
__all__ = ["clock"]  # a fixture


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def take(subject: str = "a", scope: str = "test", limit: int = 2) -> bool:
    return rate_limit.take(scope=scope, subject=subject, limit=limit, window=3600)


def test_actions_past_the_limit_are_refused():
    assert [take(), take(), take()] == [True, True, False]


def test_refused_actions_are_not_counted(clock):
    take()
    clock.move(minutes=30)
    take()
    for _ in range(5):
        assert not take()
    clock.move(minutes=32)  # the first has left the hour; the refusals never counted
    assert take()


def test_subjects_and_scopes_are_counted_apart():
    assert take("a")
    assert take("a")
    assert take("b")
    assert take("a", scope="other")
    assert not take("a")


def test_the_window_slides_over_clock_hours(clock):
    # 9:59 and 10:01 are in one window, whatever the clock hour.
    take()
    take()
    clock.move(minutes=2)
    assert not take()
    clock.move(minutes=60)
    assert take()


def test_the_count_is_kept_in_the_shared_cache(settings, monkeypatch):
    # A database table or Redis, which every web process shares; never process memory.
    assert "locmem" not in settings.CACHES["default"]["BACKEND"]
    take()
    # Another process's cache client sees the count.
    monkeypatch.setattr(rate_limit, "cache", caches.create_connection("default"))
    assert rate_limit.recent_count(scope="test", subject="a", window=3600) == 1
