"""The sandbox's answers: a status, a body and headers, built before any byte is written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from momentum import contract


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    # Seconds to hold the answer back (an injected slow response).
    delay: float = 0.0


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode(), headers or {})


def error_reply(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Reply:
    return json_reply(status, contract.error_body(code, message), headers)


def too_many(code: str, message: str, retry_after: float) -> Reply:
    """A 429 telling the client when to come back."""
    return error_reply(
        429,
        code,
        message,
        {contract.RETRY_AFTER_HEADER: contract.format_retry_after(retry_after)},
    )


def not_allowed(method: str) -> Reply:
    return error_reply(405, "method_not_allowed", f"{method} is not allowed here.")
