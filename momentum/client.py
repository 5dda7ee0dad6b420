"""The Momentum client: typed results in, typed errors out, over one requests.Session."""

from __future__ import annotations

import os
import threading
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from momentum import contract
from momentum.accounts import DEFAULT, Account, account_named
from momentum.contract import ContractError, QuoteRequest, QuoteStatus, SubmittedQuote
from momentum.errors import (
    MomentumConfigurationError,
    MomentumQuoteNotFound,
    MomentumRejected,
    MomentumTransientError,
)

__all__ = [
    "MomentumClient",
    "QuoteRequest",
    "QuoteStatus",
    "SubmittedQuote",
    "get_client",
]

USER_AGENT = "bulk-quotes/0.1 (+momentum client)"


class MomentumClient:
    """Speaks the Momentum contract; callers only ever see `momentum.errors` exceptions."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        connect_timeout: float,
        read_timeout: float,
        key_source: str = "MOMENTUM_API_KEY",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Where the key comes from, for messages (never the key itself).
        self.key_source = key_source
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self._session = requests.Session()
        self._session.headers.update(
            {
                contract.AUTHORIZATION_HEADER: contract.bearer(api_key),
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
        )

    @classmethod
    def from_settings(cls, account: Account | None = None) -> MomentumClient:
        """A client for the MOMENTUM_* settings, with the key of `account` (default: the
        one account of MOMENTUM_API_KEY)."""
        account = account or Account(name=DEFAULT)
        return cls(
            base_url=settings.MOMENTUM_BASE_URL,
            api_key=account.key,
            connect_timeout=settings.MOMENTUM_CONNECT_TIMEOUT,
            read_timeout=settings.MOMENTUM_READ_TIMEOUT,
            key_source=account.key_source,
        )

    def submit_quote(self, request: QuoteRequest, *, idempotency_key: str) -> SubmittedQuote:
        """Ask Momentum to price a quote; the same idempotency key never makes a second one."""
        if not idempotency_key or len(idempotency_key) > contract.MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValueError("idempotency_key must be 1 to 255 characters")
        response = self._send(
            "POST",
            contract.QUOTES_PATH,
            has_effect=True,
            json=contract.submit_body(request),
            headers={contract.IDEMPOTENCY_HEADER: idempotency_key},
        )
        if response.status_code not in (200, 201, 202):
            raise self._unexpected(response, has_effect=True)
        data, _ = self._body(response, has_effect=True)
        try:
            return contract.parse_submitted(data)
        except ContractError as exc:
            raise self._malformed(response, exc, has_effect=True) from None

    def get_quote(self, quote_id: str) -> QuoteStatus:
        """Poll a quote: its status, and MRC, NRC and carrier once complete."""
        response = self._send("GET", contract.quote_path(quote_id), has_effect=False)
        if response.status_code == 404:
            _, upstream = _error_detail(response)
            raise MomentumQuoteNotFound(
                upstream or f"Momentum has no quote {quote_id!r} (HTTP 404).", quote_id=quote_id
            )
        if response.status_code != 200:
            raise self._unexpected(response, has_effect=False)
        data, raw = self._body(response, has_effect=False)
        retry_after = contract.parse_retry_after(response.headers.get(contract.RETRY_AFTER_HEADER))
        try:
            return contract.parse_quote(data, raw=raw, retry_after=retry_after)
        except ContractError as exc:
            raise self._malformed(response, exc, has_effect=False) from None

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    # --- Transport ----------------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, has_effect: bool, **kwargs: Any
    ) -> requests.Response:
        """Send a request; turn transport failures and error statuses into typed errors.

        `has_effect` is True for a request that changes state upstream (a submit): when we
        cannot tell whether Momentum processed it, the error is marked ambiguous.
        """
        url = self.base_url + path
        try:
            response = self._session.request(
                method,
                url,
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,
                **kwargs,
            )
        except requests.ConnectTimeout:
            raise MomentumTransientError(
                f"Momentum did not accept a connection within {self.connect_timeout:g} s.",
                ambiguous=False,
            ) from None
        except requests.ReadTimeout:
            raise MomentumTransientError(
                f"Momentum did not answer within {self.read_timeout:g} s.",
                ambiguous=has_effect,
            ) from None
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as exc:
            raise MomentumConfigurationError(
                f"MOMENTUM_BASE_URL {self.base_url!r} is not a usable URL ({exc})."
            ) from None
        except requests.exceptions.MissingSchema:
            raise MomentumConfigurationError(
                f"MOMENTUM_BASE_URL {self.base_url!r} must start with https:// or http://."
            ) from None
        except requests.ConnectionError as exc:
            never_connected = _never_connected(exc)
            raise MomentumTransientError(
                "Could not reach Momentum"
                + (" (connection refused or host not found)." if never_connected else ".")
                + f" {_reason(exc)}",
                ambiguous=has_effect and not never_connected,
            ) from None
        except requests.RequestException as exc:
            raise MomentumTransientError(
                f"The connection to Momentum failed: {_reason(exc)}", ambiguous=has_effect
            ) from None
        return response

    def _body(self, response: requests.Response, *, has_effect: bool) -> tuple[Any, dict]:
        """The body parsed twice: with Decimal numbers (to read) and plainly (to keep)."""
        try:
            data = contract.decode_json(response.content)
            raw = contract.decode_json_raw(response.content)
        except (ContractError, requests.RequestException) as exc:
            raise self._malformed(response, exc, has_effect=has_effect) from None
        return data, raw if isinstance(raw, dict) else {"body": raw}

    def _malformed(
        self, response: requests.Response, exc: Exception, *, has_effect: bool
    ) -> MomentumTransientError:
        return MomentumTransientError(
            f"Momentum sent an answer we could not read (HTTP {response.status_code}): {exc}",
            status_code=response.status_code,
            ambiguous=has_effect,
        )

    def _unexpected(self, response: requests.Response, *, has_effect: bool) -> Exception:
        """The typed error for a status other than the expected success."""
        status = response.status_code
        code, upstream = _error_detail(response)
        retry_after = contract.parse_retry_after(response.headers.get(contract.RETRY_AFTER_HEADER))
        said = f": {upstream}" if upstream else "."
        if status == 401:
            return MomentumConfigurationError(
                f"Momentum refused the API key (HTTP 401): check {self.key_source}" + said,
                status_code=status,
            )
        if status == 403:
            return MomentumConfigurationError(
                "Momentum does not allow this API key to do that (HTTP 403): check "
                f"{self.key_source} and the account's permissions" + said,
                status_code=status,
            )
        if status == 429:
            wait = f" Retry after {retry_after:g} s." if retry_after is not None else ""
            return MomentumTransientError(
                f"Momentum is busy (HTTP 429){said}{wait}",
                status_code=status,
                retry_after=retry_after,
                ambiguous=False,
                code=code,
            )
        if status == 408:
            return MomentumTransientError(
                f"Momentum timed out reading the request (HTTP 408){said}",
                status_code=status,
                retry_after=retry_after,
                ambiguous=False,
            )
        if 300 <= status < 400:
            return MomentumConfigurationError(
                f"Momentum redirected to {response.headers.get('Location', '?')!r} "
                f"(HTTP {status}): set MOMENTUM_BASE_URL to the final address.",
                status_code=status,
            )
        if 400 <= status < 500:
            return MomentumRejected(
                upstream or f"Momentum rejected the request (HTTP {status}).",
                code=code or f"http_{status}",
                status_code=status,
            )
        if status >= 500:
            return MomentumTransientError(
                f"Momentum had an error (HTTP {status}){said}",
                status_code=status,
                retry_after=retry_after,
                ambiguous=has_effect,
            )
        return MomentumTransientError(
            f"Momentum answered with an unexpected HTTP {status}.",
            status_code=status,
            ambiguous=has_effect,
        )


def _error_detail(response: requests.Response) -> tuple[str, str]:
    """Momentum's error code and message, if the body has them."""
    try:
        return contract.parse_error(contract.decode_json(response.content))
    except (ContractError, requests.RequestException):
        return "", ""


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection was never made, so the request cannot have been processed."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)
    return str(reason)[:300]


_local = threading.local()


def get_client(account: str = DEFAULT) -> MomentumClient:
    """The client of one account (by name) for the current settings, one per account,
    thread and process (tests change settings). An account no longer configured gets a
    client with no key: Momentum refuses it, and that account stops as a bad key does."""
    configured = account_named(account) or Account(name=account, variable="")
    key = (
        os.getpid(),
        settings.MOMENTUM_BASE_URL,
        configured,
        configured.key,
        float(settings.MOMENTUM_CONNECT_TIMEOUT),
        float(settings.MOMENTUM_READ_TIMEOUT),
    )
    clients = getattr(_local, "clients", None)
    if clients is None:
        clients = _local.clients = {}
    cached = clients.get(account)
    if cached is None or cached[0] != key:
        if cached is not None and cached[0][0] == key[0]:
            cached[1].close()
        cached = (key, MomentumClient.from_settings(configured))
        clients[account] = cached
    return cached[1]
