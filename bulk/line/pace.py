"""The line's pace is the slot's turnover, measured in `quotes.pace` (its one home, which
the single-quote pages read too); named here for the line's readers."""

from quotes.pace import PACE_CACHE_KEY, PACE_SAMPLE_MIN, Pace, expected_pace, turnovers

__all__ = ["PACE_CACHE_KEY", "PACE_SAMPLE_MIN", "Pace", "expected_pace", "turnovers"]
