"""The Momentum API contract: the only place that knows the wire format.

Paths, headers, JSON field names, how a request body is built and how an answer is parsed
live here; `client.py` (our side) and `sandbox.py` (the stand-in server) both use it, so
adapting to the real API's wire format touches this file only.

    POST /quotes            Authorization: Bearer <key>, Idempotency-Key: <key>
        {"address": {"street", "city", "state", "zip"}, "speed_mbps", "term_months",
         "contact": {"name", "email", "phone", "company"}}
        -> 202 {"id", "status"}
        -> 400/422 {"code", "message"}, 401/403, 429 + Retry-After, 5xx
        A key Momentum accepted is answered with its quote again (202), even while it is
        pending; 429 "quote_in_flight" means the key made no quote (another one is
        pending), 429 "busy" that another request of ours is still being served.
    GET /quotes/{id}        Authorization: Bearer <key>
        -> 200 {"id", "status": pending|complete|failed, "mrc", "nrc", "carrier", "message",
                "code"}
           (mrc and nrc are decimal strings such as "149.00", null until complete; a failed
           quote's "code" says why, "no_coverage" when no carrier serves the address)
        -> 404 {"code": "not_found", "message"}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote as url_quote

QUOTES_PATH = "/quotes"
AUTHORIZATION_HEADER = "Authorization"
IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_AFTER_HEADER = "Retry-After"
MAX_IDEMPOTENCY_KEY_LENGTH = 255

STATUS_PENDING = "pending"
STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
QUOTE_STATUSES = (STATUS_PENDING, STATUS_COMPLETE, STATUS_FAILED)

# Error codes Momentum answers with in {"code": ..., "message": ...}.
CODE_BAD_REQUEST = "bad_request"
CODE_INVALID_ADDRESS = "invalid_address"
CODE_UNSUPPORTED_PRODUCT = "unsupported_product"
CODE_NO_COVERAGE = "no_coverage"
CODE_NOT_FOUND = "not_found"
CODE_UNAUTHORIZED = "unauthorized"
CODE_QUOTE_IN_FLIGHT = "quote_in_flight"
CODE_BUSY = "busy"
CODE_RATE_LIMITED = "rate_limited"
CODE_INTERNAL_ERROR = "internal_error"


class ContractError(ValueError):
    """A body does not match the contract (missing fields, wrong types, not JSON)."""


@dataclass(frozen=True)
class QuoteRequest:
    """What we ask Momentum to price: an address, a product and the lead's contact."""

    street_address: str
    city: str
    state: str
    zip_code: str
    speed_mbps: int
    term_months: int
    contact_name: str
    email: str
    phone: str
    company: str


@dataclass(frozen=True)
class SubmittedQuote:
    """Momentum accepted a quote: its id and first status."""

    quote_id: str
    status: str


@dataclass(frozen=True)
class QuoteStatus:
    """A quote as Momentum reports it when polled."""

    quote_id: str
    status: str
    mrc: Decimal | None
    nrc: Decimal | None
    carrier: str
    message: str
    retry_after: float | None
    raw: dict = field(compare=False)
    # Why a failed quote failed (CODE_NO_COVERAGE, ...); "" when Momentum does not say.
    code: str = ""

    @property
    def is_pending(self) -> bool:
        """Momentum is still pricing it."""
        return self.status == STATUS_PENDING

    @property
    def is_complete(self) -> bool:
        """Priced: mrc, nrc and carrier are set."""
        return self.status == STATUS_COMPLETE

    @property
    def is_failed(self) -> bool:
        """Momentum could not price it (for example no coverage); `message` says why."""
        return self.status == STATUS_FAILED

    @property
    def is_no_coverage(self) -> bool:
        """Failed because no carrier serves the address: an answer about the address."""
        return self.is_failed and self.code == CODE_NO_COVERAGE


# --- Requests -------------------------------------------------------------------------


def quote_path(quote_id: str) -> str:
    """The path of one quote."""
    return f"{QUOTES_PATH}/{url_quote(str(quote_id), safe='')}"


def bearer(api_key: str) -> str:
    """The Authorization header value for a key."""
    return f"Bearer {api_key}"


def parse_bearer(header: str | None) -> str | None:
    """The key in an Authorization header, or None when there is none."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def submit_body(request: QuoteRequest) -> dict[str, Any]:
    """The JSON body of POST /quotes."""
    return {
        "address": {
            "street": request.street_address,
            "city": request.city,
            "state": request.state,
            "zip": request.zip_code,
        },
        "speed_mbps": request.speed_mbps,
        "term_months": request.term_months,
        "contact": {
            "name": request.contact_name,
            "email": request.email,
            "phone": request.phone,
            "company": request.company,
        },
    }


def parse_submit_body(data: Any) -> QuoteRequest:
    """Read a POST /quotes body (the sandbox's side); ContractError if it is not one."""
    if not isinstance(data, dict):
        raise ContractError("the body must be a JSON object")
    address = _object(data, "address")
    contact = _object(data, "contact")
    return QuoteRequest(
        street_address=_string(address, "street", "address.street", required=True),
        city=_string(address, "city", "address.city"),
        state=_string(address, "state", "address.state"),
        zip_code=_string(address, "zip", "address.zip", required=True),
        speed_mbps=_integer(data, "speed_mbps"),
        term_months=_integer(data, "term_months"),
        contact_name=_string(contact, "name", "contact.name"),
        email=_string(contact, "email", "contact.email"),
        phone=_string(contact, "phone", "contact.phone"),
        company=_string(contact, "company", "contact.company"),
    )


# --- Answers --------------------------------------------------------------------------


def submitted_body(quote_id: str, status: str) -> dict[str, Any]:
    """The JSON body of a 202 answer to POST /quotes."""
    return {"id": quote_id, "status": status}


def parse_submitted(data: Any) -> SubmittedQuote:
    """Read a 202 answer to POST /quotes; ContractError if it is not one."""
    if not isinstance(data, dict):
        raise ContractError("the answer is not a JSON object")
    return SubmittedQuote(quote_id=_quote_id(data), status=_status(data))


def quote_body(
    *,
    quote_id: str,
    status: str,
    mrc: Decimal | None = None,
    nrc: Decimal | None = None,
    carrier: str = "",
    message: str = "",
    code: str = "",
) -> dict[str, Any]:
    """The JSON body of a 200 answer to GET /quotes/{id}."""
    return {
        "id": quote_id,
        "status": status,
        "mrc": None if mrc is None else f"{mrc:.2f}",
        "nrc": None if nrc is None else f"{nrc:.2f}",
        "carrier": carrier,
        "message": message,
        "code": code,
    }


def parse_quote(data: Any, *, raw: dict, retry_after: float | None = None) -> QuoteStatus:
    """Read a 200 answer to GET /quotes/{id}; ContractError if it is not one.

    `data` must come from `decode_json` (numbers as Decimal, never float); `raw` is the
    same body parsed plainly, kept as received.
    """
    if not isinstance(data, dict):
        raise ContractError("the answer is not a JSON object")
    status = _status(data)
    mrc = _money(data, "mrc")
    nrc = _money(data, "nrc")
    carrier = _optional_string(data, "carrier")
    if status == STATUS_COMPLETE and (mrc is None or nrc is None):
        raise ContractError("a complete quote must have mrc and nrc")
    return QuoteStatus(
        quote_id=_quote_id(data),
        status=status,
        mrc=mrc,
        nrc=nrc,
        carrier=carrier,
        message=_optional_string(data, "message"),
        retry_after=retry_after,
        raw=raw,
        code=_optional_string(data, "code"),
    )


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {"code": code, "message": message}


def parse_error(data: Any) -> tuple[str, str]:
    """The (code, message) of an error answer; empty strings for what is missing."""
    if not isinstance(data, dict):
        return "", ""
    code = data.get("code")
    message = data.get("message")
    return (
        code if isinstance(code, str) else "",
        message if isinstance(message, str) else "",
    )


def decode_json(content: bytes) -> Any:
    """Parse a body as JSON with numbers as Decimal; ContractError if it is not JSON."""
    try:
        return json.loads(content, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"the body is not JSON ({exc})") from exc


def decode_json_raw(content: bytes) -> Any:
    """Parse a body as plain JSON (what is kept as the raw payload)."""
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(f"the body is not JSON ({exc})") from exc


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def format_retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds when whole, else up to milliseconds."""
    seconds = max(0.0, seconds)
    if seconds == int(seconds):
        return str(int(seconds))
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


# --- Field readers ----------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _object(data: dict, key: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ContractError(f"{key} must be an object")
    return value


def _string(data: dict, key: str, label: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ContractError(f"{label} must be a string")
    if required and not value.strip():
        raise ContractError(f"{label} is required")
    return value


def _integer(data: dict, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(f"{key} must be an integer")
    return value


def _quote_id(data: dict) -> str:
    value = data.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise ContractError("the answer has no quote id")
    return str(value)


def _status(data: dict) -> str:
    value = data.get("status")
    if value not in QUOTE_STATUSES:
        raise ContractError(f"unknown quote status {value!r}")
    return value


def _optional_string(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ContractError(f"{key} must be a string")
    return value


def _money(data: dict, key: str) -> Decimal | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ContractError(f"{key} must be a decimal string")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ContractError(f"{key} is not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise ContractError(f"{key} is not a price: {value!r}")
    return amount
