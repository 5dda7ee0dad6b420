"""The circuit breaker: its pause and its state (quotes.services.health)."""

import pytest

from momentum.errors import MomentumTransientError
from quotes.models import MomentumHealth
from quotes.services import health

ERROR = MomentumTransientError("Momentum answered 503.", status_code=503)


def test_the_pause_starts_at_the_setting_and_never_near_zero(settings):
    settings.MOMENTUM_DOWN_PAUSE = 5.0
    pauses = [health.down_pause(beyond=0) for _ in range(200)]
    assert min(pauses) >= 5.0
    assert max(pauses) <= 5.0 * 1.25


def test_the_pause_doubles_up_to_five_minutes_with_jitter_on_top(settings):
    settings.MOMENTUM_DOWN_PAUSE = 5.0
    assert 10.0 <= health.down_pause(beyond=1) <= 12.5
    assert 20.0 <= health.down_pause(beyond=2) <= 25.0
    assert 300.0 <= health.down_pause(beyond=20) <= 375.0


@pytest.mark.django_db
def test_a_success_forgets_failures_another_process_counted():
    health.note_momentum_success()  # this process saw Momentum answer
    MomentumHealth.objects.update_or_create(pk=1, defaults={"consecutive_failures": 7})
    health.note_momentum_success()
    assert MomentumHealth.objects.get(pk=1).consecutive_failures == 0


@pytest.mark.django_db
def test_failures_past_the_threshold_pause_every_process(settings):
    settings.MOMENTUM_DOWN_AFTER = 2
    assert [health.note_momentum_failure(error=ERROR) for _ in range(3)] == [False, True, True]
    row = MomentumHealth.objects.get(pk=1)
    assert row.consecutive_failures == 3
    assert row.paused_until is not None
