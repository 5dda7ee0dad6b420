"""The sandbox's counters: in total and per API key, as GET /__sandbox/stats shows them.

Every counter is kept twice: in total (every request, whatever its key) and for the key the
request came with, when that key is one of the sandbox's (`SandboxConfig.api_keys`). The
totals add up the keys' counters, and requests with unknown or missing keys, except the two
highest-seen figures, `max_in_flight_seen` and `max_concurrent_requests_seen`: the limits
they watch hold per key, so their total is the highest figure of any one key.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

# The counters that keep the highest figure seen rather than a count.
HIGHEST_SEEN = ("max_in_flight_seen", "max_concurrent_requests_seen")


@dataclass
class Counters:
    """What happened to API requests since the last reset, in total or for one key."""

    requests: int = 0
    # POST /quotes requests received, whatever the answer (replays and refusals included).
    submit_requests: int = 0
    # Upstream quotes actually created.
    quotes_created: int = 0
    polls: int = 0
    # Polls of a quote that exists but was created under another key (answered 404).
    foreign_polls: int = 0
    max_in_flight_seen: int = 0
    max_concurrent_requests_seen: int = 0
    rejected_in_flight: int = 0
    rejected_concurrent: int = 0
    rejected_unauthorized: int = 0
    rejected_invalid: int = 0
    idempotent_replays: int = 0
    injected_429: int = 0
    injected_500: int = 0
    injected_slow: int = 0
    injected_malformed: int = 0
    # The pricing delays drawn for the quotes created, added up.
    pricing_seconds_total: float = 0.0

    @classmethod
    def from_values(cls, saved: dict[str, Any]) -> Counters:
        """Counters from saved name/value pairs; names not saved start at 0."""
        values = {}
        for counter in dataclasses.fields(cls):
            if counter.name in saved:
                value = saved[counter.name]
                values[counter.name] = float(value) if counter.type == "float" else int(value)
        return cls(**values)

    def values(self) -> dict[str, int | float]:
        """Every counter by name."""
        return {counter.name: getattr(self, counter.name) for counter in dataclasses.fields(self)}


@dataclass
class Stats(Counters):
    """The totals, and the same counters for each key that has made a request."""

    keys: dict[str, Counters] = field(default_factory=dict)

    def count(self, api_key: str | None, name: str, amount: float = 1) -> None:
        """Add to a counter, in total and for `api_key` (None: a key not the sandbox's)."""
        for counters in self._counters_of(api_key):
            setattr(counters, name, getattr(counters, name) + amount)

    def see(self, api_key: str | None, name: str, figure: int) -> None:
        """Raise a highest-seen counter to `figure` if it is higher, in total and for the key."""
        for counters in self._counters_of(api_key):
            setattr(counters, name, max(getattr(counters, name), figure))

    def copy(self) -> Stats:
        """An independent copy, to change before it is written and kept."""
        return copy.deepcopy(self)

    def values(self) -> dict[str, int | float]:
        """The totals by name (the keys' counters are in `keys`)."""
        return {name: value for name, value in super().values().items() if name != "keys"}

    def _counters_of(self, api_key: str | None) -> tuple[Counters, ...]:
        if api_key is None:
            return (self,)
        return (self, self.keys.setdefault(api_key, Counters()))
