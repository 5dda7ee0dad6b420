"""The sandbox's settings: what it delays, refuses and breaks, all changeable while it runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class SandboxConfig:
    """How the sandbox behaves; every field may be changed while it runs."""

    # The bearer keys it accepts, one per Momentum account: each has its own quotes (a poll
    # with another key gets 404), its own in-flight and one-request limits, its own counters.
    api_keys: tuple[str, ...] = ("sandbox-key",)
    # Keys refused (401, as an unknown key) until taken off this list; their quotes are
    # still priced meanwhile. Each must be one of `api_keys`.
    revoked_keys: tuple[str, ...] = ()
    # A quote is priced this many seconds (uniform draw) after it is created.
    delay_min: float = 3.0
    delay_max: float = 8.0
    # If set, quotes are priced in these delays in turn instead (the n-th new quote in
    # the n-th, cycling): the spread of pricing times without the luck of the draw, for
    # tests that measure an estimate's error rather than the draws'.
    delay_cycle: tuple[float, ...] = ()
    # Seeds the draws (delays, injected failures); None means a random seed.
    seed: int | None = None
    # Refuse a new quote (429) while `max_in_flight` quotes of the same key are pending.
    enforce_one_in_flight: bool = True
    max_in_flight: int = 1
    # Refuse a request (429) that arrives while another API request with the same key is
    # being served.
    enforce_one_request: bool = True
    # Failure injection, per API request (POST and GET); the rates add up to at most 1.
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 25.0
    rate_malformed: float = 0.0
    # A created quote fails with "no coverage" at this rate, besides the ZIP prefixes.
    rate_no_coverage: float = 0.0
    # Retry-After on injected 429s and on refusals of concurrent requests (seconds).
    retry_after: float = 1.0
    # If set, a pending quote's 200 answer carries this Retry-After hint (seconds).
    poll_retry_after: float | None = None
    # Quotes whose ZIP code starts with one of these always fail with "no coverage".
    no_coverage_zip_prefixes: tuple[str, ...] = ("999",)

    @property
    def api_key(self) -> str:
        """The first key: the only one of a sandbox with one key, as before there were more."""
        return self.api_keys[0]

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_keys = (value,)

    def validate(self) -> None:
        """Raise ValueError if the values make no sense together."""
        if not self.api_keys or not all(self.api_keys):
            raise ValueError("api_keys must hold one key or more, none of them empty")
        if len(set(self.api_keys)) < len(self.api_keys):
            raise ValueError("api_keys must not repeat a key")
        if not set(self.revoked_keys) <= set(self.api_keys):
            raise ValueError("revoked_keys must be some of api_keys")
        if not 0 <= self.delay_min <= self.delay_max:
            raise ValueError("delays must satisfy 0 <= delay_min <= delay_max")
        if any(delay < 0 for delay in self.delay_cycle):
            raise ValueError("delay_cycle must hold delays of 0 or more")
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be 1 or more")
        rates = {name: getattr(self, name) for name in (*_INJECTION_RATES, "rate_no_coverage")}
        for name, rate in rates.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        if sum(getattr(self, name) for name in _INJECTION_RATES) > 1 + 1e-9:
            raise ValueError("rate_429 + rate_500 + rate_slow + rate_malformed must be <= 1")
        if self.slow_seconds < 0 or self.retry_after < 0:
            raise ValueError("slow_seconds and retry_after must be 0 or more")
        if self.poll_retry_after is not None and self.poll_retry_after < 0:
            raise ValueError("poll_retry_after must be 0 or more")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-ready values."""
        data = dataclasses.asdict(self)
        for name in _LIST_FIELDS:
            data[name] = list(data[name])
        return data

    def changed(self, **changes: Any) -> SandboxConfig:
        """A copy with settings changed, as JSON gives them, checked (ValueError if bad).
        `api_key` stands for `api_keys` with that one key."""
        if "api_key" in changes:
            if "api_keys" in changes:
                raise ValueError("give api_key or api_keys, not both")
            key = changes.pop("api_key")
            if not isinstance(key, str):
                raise ValueError("api_key must be a string")
            changes["api_keys"] = [key]
        candidate = dataclasses.replace(
            self, **{name: coerce_setting(name, value) for name, value in changes.items()}
        )
        candidate.validate()
        return candidate


_INJECTION_RATES = ("rate_429", "rate_500", "rate_slow", "rate_malformed")
_FLOAT_FIELDS = {
    "delay_min",
    "delay_max",
    "rate_429",
    "rate_500",
    "rate_slow",
    "slow_seconds",
    "rate_malformed",
    "rate_no_coverage",
    "retry_after",
}
_BOOL_FIELDS = {"enforce_one_in_flight", "enforce_one_request"}
_STRING_LIST_FIELDS = {"api_keys", "revoked_keys", "no_coverage_zip_prefixes"}
_LIST_FIELDS = (*sorted(_STRING_LIST_FIELDS), "delay_cycle")


def coerce_setting(name: str, value: Any) -> Any:
    """A config value from JSON, checked against the field's type."""
    if name in _FLOAT_FIELDS or name == "poll_retry_after":
        if value is None and name == "poll_retry_after":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        return float(value)
    if name in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name in ("seed", "max_in_flight"):
        if value is None and name == "seed":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        return value
    if name in _STRING_LIST_FIELDS:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{name} must be a list of strings")
        return tuple(value)
    if name == "delay_cycle":
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            raise ValueError("delay_cycle must be a list of numbers")
        return tuple(float(v) for v in value)
    raise ValueError(f"unknown setting {name!r}")
