"""The contract's endpoints: POST /quotes (submit) and GET /quotes/{id} (poll).

Every request needs one of the bearer keys (`api_keys`, not revoked), is counted, and is
refused (429) while another one with the same key is being answered (`enforce_one_request`);
faults.py may fail or spoil its answer. A submit is refused (429) while `max_in_flight`
quotes of its key are pending, replays the quote its key made under an idempotency key it
has seen, and otherwise makes a quote of its key, priced after a drawn delay. A poll of a
quote made under another key is answered as if there were no such quote (404), and
counted as a foreign poll.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote

from momentum import contract
from momentum.contract import ContractError, QuoteRequest
from momentum.sandbox.config import SandboxConfig
from momentum.sandbox.faults import answer_with_faults
from momentum.sandbox.ledger import Ledger
from momentum.sandbox.pricing import price_quote
from momentum.sandbox.replies import Reply, error_reply, json_reply, not_allowed, too_many
from momentum.sandbox.state import Quote

logger = logging.getLogger("momentum.sandbox")

# An address whose street contains this (any case) is rejected at submit with 400.
INVALID_ADDRESS_MARKER = "INVALID"
NO_COVERAGE_MESSAGE = "No coverage at this address."


class QuoteEndpoints:
    """Answers API requests from the server's threads, with the sandbox's config (changed
    in place while it runs) and ledger; a slow answer waits until `stopping` is set."""

    def __init__(self, config: SandboxConfig, ledger: Ledger, stopping: threading.Event) -> None:
        self.config = config
        self.ledger = ledger
        self.stopping = stopping

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """Answer one API request, counting it as in progress until the answer is ready."""
        ledger = self.ledger
        key = contract.parse_bearer(headers.get(contract.AUTHORIZATION_HEADER))
        # Counted per key only for the sandbox's own keys (revoked ones too).
        counted = key if key in self.config.api_keys else None
        with ledger.lock:
            at_once = ledger.start_request(key)
            ledger.stats.count(counted, "requests")
            if method == "POST" and path == contract.QUOTES_PATH:
                ledger.stats.count(counted, "submit_requests")
            ledger.stats.see(counted, "max_concurrent_requests_seen", at_once)
            busy = self.config.enforce_one_request and at_once > 1
            if busy:
                ledger.stats.count(counted, "rejected_concurrent")
        try:
            if busy:
                return too_many(
                    contract.CODE_BUSY,
                    "Another request is being served; send one request at a time.",
                    self.config.retry_after,
                )
            reply = self._route(method, path, headers, body, key=key, counted=counted)
            if reply.delay > 0:
                self.stopping.wait(reply.delay)
            return reply
        finally:
            # Before the answer is written: a client that sends its next request only after
            # reading this answer can never be counted as concurrent with it.
            with ledger.lock:
                ledger.end_request(key)

    def _route(
        self,
        method: str,
        path: str,
        headers: Any,
        body: bytes,
        *,
        key: str | None,
        counted: str | None,
    ) -> Reply:
        if counted is None or key in self.config.revoked_keys:
            with self.ledger.lock:
                self.ledger.stats.count(counted, "rejected_unauthorized")
            return error_reply(
                401,
                contract.CODE_UNAUTHORIZED,
                "Missing bearer key." if key is None else "Invalid API key.",
                {"WWW-Authenticate": 'Bearer realm="momentum"'},
            )
        if path == contract.QUOTES_PATH:
            if method != "POST":
                return not_allowed(method)
            handler = functools.partial(self._submit, key, headers, body)
        elif path.startswith(contract.QUOTES_PATH + "/") and path.count("/") == 2:
            if method != "GET":
                return not_allowed(method)
            quote_id = unquote(path.rsplit("/", 1)[1])
            with self.ledger.lock:
                self.ledger.stats.count(key, "polls")
                # Whatever the answer turns out to be (an injected failure too): asking
                # for another key's quote is the client's mistake.
                if self.ledger.is_foreign(key, quote_id):
                    self.ledger.stats.count(key, "foreign_polls")
            handler = functools.partial(self._poll, key, quote_id)
        else:
            return error_reply(404, contract.CODE_NOT_FOUND, f"No endpoint {method} {path}.")
        return answer_with_faults(self.config, self.ledger, handler, api_key=key)

    def _submit(self, key: str, headers: Any, body: bytes) -> Reply:
        try:
            request = contract.parse_submit_body(contract.decode_json(body))
        except ContractError as exc:
            return error_reply(400, contract.CODE_BAD_REQUEST, f"Bad quote request: {exc}.")
        idempotency_key = headers.get(contract.IDEMPOTENCY_HEADER) or ""
        if len(idempotency_key) > contract.MAX_IDEMPOTENCY_KEY_LENGTH:
            return error_reply(
                400, contract.CODE_BAD_REQUEST, "Idempotency-Key is longer than 255 characters."
            )
        with self.ledger.lock:
            now = time.time()
            # The key first: a retried submit gets its quote back even while it is pending.
            existing = self.ledger.quote_for_key(key, idempotency_key)
            if idempotency_key and existing is not None:
                self.ledger.stats.count(key, "idempotent_replays")
                return _accepted(existing, now)
            pending = self.ledger.pending_of(key, now)
            refusal = self._refusal(key, request, now, pending=pending)
            if refusal is not None:
                return refusal
            quote = self._create(key, request, idempotency_key, now, in_flight=len(pending) + 1)
        logger.info(
            "quote %s for %s, %s Mbps, %s months: %s in %.1f s",
            quote.id,
            request.street_address,
            request.speed_mbps,
            request.term_months,
            quote.outcome,
            quote.ready_at - quote.created_at,
        )
        return _accepted(quote, now)

    def _refusal(
        self, key: str, request: QuoteRequest, now: float, *, pending: list[Quote]
    ) -> Reply | None:
        """Why a new quote cannot be made (lock held): a bad address, no such product, or
        the key's quotes already in flight; counted. None if it can."""
        stats, config = self.ledger.stats, self.config
        if INVALID_ADDRESS_MARKER in request.street_address.upper():
            stats.count(key, "rejected_invalid")
            return error_reply(
                400,
                contract.CODE_INVALID_ADDRESS,
                f"The address {request.street_address!r} could not be validated.",
            )
        if not (1 <= request.speed_mbps <= 100_000 and 1 <= request.term_months <= 120):
            stats.count(key, "rejected_invalid")
            return error_reply(
                422,
                contract.CODE_UNSUPPORTED_PRODUCT,
                f"No product at {request.speed_mbps} Mbps for {request.term_months} months.",
            )
        if config.enforce_one_in_flight and len(pending) >= config.max_in_flight:
            stats.count(key, "rejected_in_flight")
            soonest = min(quote.ready_at for quote in pending) - now
            return too_many(
                contract.CODE_QUOTE_IN_FLIGHT,
                "A quote is already in flight for this account.",
                math.ceil(max(soonest, 0.1) * 10) / 10,
            )
        return None

    def _create(
        self, key: str, request: QuoteRequest, idempotency_key: str, now: float, *, in_flight: int
    ) -> Quote:
        """A new quote (lock held): its delay and outcome are drawn now, then it is counted
        and kept (written to the state file first, so a failed write changes nothing)."""
        config, ledger = self.config, self.ledger
        if config.delay_cycle:
            delay = config.delay_cycle[ledger.stats.quotes_created % len(config.delay_cycle)]
        else:
            delay = ledger.rng.uniform(config.delay_min, config.delay_max)
        no_coverage = request.zip_code.strip().startswith(
            tuple(config.no_coverage_zip_prefixes)
        ) or (config.rate_no_coverage > 0 and ledger.rng.random() < config.rate_no_coverage)
        if no_coverage:
            outcome, mrc, nrc, carrier, message = (
                contract.STATUS_FAILED,
                None,
                None,
                "",
                NO_COVERAGE_MESSAGE,
            )
        else:
            mrc, nrc, carrier = price_quote(request)
            outcome, message = contract.STATUS_COMPLETE, ""
        quote = Quote(
            id=f"MQ-{uuid.uuid4().hex[:16].upper()}",
            api_key=key,
            request=request,
            idempotency_key=idempotency_key,
            created_at=now,
            ready_at=now + delay,
            outcome=outcome,
            mrc=mrc,
            nrc=nrc,
            carrier=carrier,
            message=message,
        )
        stats = ledger.stats.copy()
        stats.count(key, "quotes_created")
        stats.see(key, "max_in_flight_seen", in_flight)
        stats.count(key, "pricing_seconds_total", delay)
        ledger.keep(quote, stats)
        return quote

    def _poll(self, key: str, quote_id: str) -> Reply:
        with self.ledger.lock:
            quote = self.ledger.quote_of(key, quote_id)
            now = time.time()
        if quote is None:
            return error_reply(404, contract.CODE_NOT_FOUND, f"No quote {quote_id!r}.")
        status = quote.status_at(now)
        headers = {}
        if status == contract.STATUS_PENDING:
            body = contract.quote_body(quote_id=quote.id, status=status)
            if self.config.poll_retry_after is not None:
                headers[contract.RETRY_AFTER_HEADER] = contract.format_retry_after(
                    self.config.poll_retry_after
                )
        else:
            body = contract.quote_body(
                quote_id=quote.id,
                status=status,
                mrc=quote.mrc,
                nrc=quote.nrc,
                carrier=quote.carrier,
                message=quote.message,
                # The only way a sandbox quote fails is no coverage (see _create).
                code=contract.CODE_NO_COVERAGE if status == contract.STATUS_FAILED else "",
            )
        return json_reply(200, body, headers)


def _accepted(quote: Quote, now: float) -> Reply:
    return json_reply(
        202,
        contract.submitted_body(quote.id, quote.status_at(now)),
        {"Location": contract.quote_path(quote.id)},
    )
