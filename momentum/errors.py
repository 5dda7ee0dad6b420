"""Typed errors for everything that can go wrong talking to Momentum.

Callers catch these and nothing else: the client turns every `requests` and JSON exception
into one of them. Each carries a `message` a person can read (staff see it in admin, users
see it on a failed row).
"""

from momentum import contract


class MomentumError(Exception):
    """Base class: something went wrong talking to Momentum."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class MomentumTransientError(MomentumError):
    """Try again later: 429, 5xx, connection errors, timeouts, malformed answers.

    `ambiguous` is True when the request may have been processed upstream (a submit that
    timed out while waiting for the answer, got a 5xx, or got an answer we could not read):
    retry it with the same idempotency key and keep the slot. It is False when the request
    certainly had no effect (429, connection refused, connect timeout, and every GET).

    `code` is Momentum's error code when it sent one (for a 429: `quote_in_flight`, a
    quote other than the one under this key is pending; `busy`, another request of ours
    is being served, such as the submit that timed out; `rate_limited`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.code = code

    @property
    def busy(self) -> bool:
        """Momentum answered 429: it is up and asks us to come back later. Not a failure."""
        return self.status_code == 429

    @property
    def not_accepted(self) -> bool:
        """Momentum's answer that the submit made no quote under its key (the contract:
        a key it accepted is answered with its quote, even while pending)."""
        return self.status_code == 429 and self.code == contract.CODE_QUOTE_IN_FLIGHT


class MomentumRejected(MomentumError):
    """Momentum refused the request for good (400, 404, 422): retrying will not help."""

    def __init__(self, message: str, *, code: str = "rejected", status_code: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code


class MomentumQuoteNotFound(MomentumRejected):
    """Momentum has no quote with the id we polled (404): it never made it, or forgot it.

    Not the address's fault: the caller submits the quote again under a new key."""

    def __init__(self, message: str, *, quote_id: str) -> None:
        super().__init__(message, code="not_found", status_code=404)
        self.quote_id = quote_id


class MomentumConfigurationError(MomentumError):
    """Our side is misconfigured (401/403: the API key is wrong; or a bad base URL)."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def error_kind(error: MomentumError) -> str:
    """A short label for an error, for counting by kind: refused_key, bad_config, busy,
    server_error, malformed, unreachable or rejected."""
    status = getattr(error, "status_code", None)
    if isinstance(error, MomentumConfigurationError):
        return "refused_key" if status in (401, 403) else "bad_config"
    if isinstance(error, MomentumRejected):
        return "rejected"
    if status == 429:
        return "busy"
    if status is not None and status >= 500:
        return "server_error"
    if status is not None:
        return "malformed"
    return "unreachable"
