"""The sandbox server: the contract over a threaded HTTP server, with state and counters."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import random
import socketserver
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from momentum import contract
from momentum.contract import ContractError, QuoteRequest
from momentum.sandbox.config import SandboxConfig, coerce_setting
from momentum.sandbox.pricing import price_quote
from momentum.sandbox.state import FLUSH_SECONDS, Quote, StateFile, Stats

logger = logging.getLogger("momentum.sandbox")

ADMIN_PREFIX = "/__sandbox/"
MAX_BODY_BYTES = 1024 * 1024
# An address whose street contains this (any case) is rejected at submit with 400.
INVALID_ADDRESS_MARKER = "INVALID"
NO_COVERAGE_MESSAGE = "No coverage at this address."


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    # Seconds to hold the answer back (an injected slow response).
    delay: float = 0.0


def _json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(data).encode(), headers or {})


def _error_reply(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> _Reply:
    return _json_reply(status, contract.error_body(code, message), headers)


_MALFORMED_BODIES = (
    (b'{"id": "', "application/json"),
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    (b'{"status": "pending"', "application/json"),
    (b"", "application/json"),
)


class SandboxServer:
    """The sandbox on host:port (port 0 picks a free one), served from a daemon thread.

    With `state_path`, quotes, idempotency keys and counters are kept in that SQLite file
    (created if missing) and read back by the next sandbox started on it; StateError if
    the file cannot be used. Without it, they live in memory and die with the server.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state_path: str | Path | None = None,
    ) -> None:
        self.config = config if config is not None else SandboxConfig()
        self.config.validate()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._rng = random.Random(self.config.seed)  # noqa: S311 (simulation, not security)
        self._quotes: dict[str, Quote] = {}
        self._by_key: dict[str, str] = {}
        self._pending: list[Quote] = []
        self._stats = Stats()
        self._active = 0
        self._thread: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        self._restored = 0
        self._state_path = Path(state_path) if state_path is not None else None
        self._state = StateFile(state_path) if state_path is not None else None
        if self._state is not None:
            self._restore(self._state)
        # The counters as last written, to skip a flush when nothing changed.
        self._saved_stats = dataclasses.replace(self._stats)
        try:
            self._httpd = _HTTPServer((host, port), _Handler)
        except BaseException:
            self._close_state()
            raise
        self._httpd.sandbox = self
        self.host, self.port = self._httpd.server_address[:2]

    @property
    def state_path(self) -> Path | None:
        """The state file, or None for a sandbox that keeps everything in memory."""
        return self._state_path

    @property
    def quotes_restored(self) -> int:
        """How many quotes this sandbox read back from its state file when it started."""
        return self._restored

    @property
    def url(self) -> str:
        """The base URL to give the client, e.g. http://127.0.0.1:54321."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        """Serve from a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"momentum-sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
        if self._state is not None and self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_periodically,
                name=f"momentum-sandbox-{self.port}-flush",
                daemon=True,
            )
            self._flusher.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut short any slow answer, close the socket and write the state."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self._close_state()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset, and the quotes pending now."""
        with self._lock:
            data = dataclasses.asdict(self._stats)
            data["quotes_pending"] = self._pending_count(time.time())
            data["requests_in_progress"] = self._active
        return data

    def reset(self) -> None:
        """Forget every quote, idempotency key and counter (in the state file too); reseed."""
        with self._lock:
            if self._state is not None:
                self._state.clear()
            self._quotes.clear()
            self._by_key.clear()
            self._pending.clear()
            self._stats = Stats()
            self._saved_stats = Stats()
            self._rng.seed(self.config.seed)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change settings (as the config endpoint does); ValueError for a bad one."""
        values = self.config.to_dict()
        for name, value in changes.items():
            values[name] = coerce_setting(name, value)
        values["no_coverage_zip_prefixes"] = tuple(values["no_coverage_zip_prefixes"])
        candidate = SandboxConfig(**values)
        candidate.validate()
        with self._lock:
            for name in changes:
                setattr(self.config, name, getattr(candidate, name))
            if "seed" in changes:
                self._rng.seed(self.config.seed)
        return self.config

    def quotes(self) -> list[dict[str, Any]]:
        """Every quote the sandbox holds, oldest first (for tests and debugging)."""
        now = time.time()
        with self._lock:
            return [
                {
                    "id": quote.id,
                    "status": quote.status_at(now),
                    "idempotency_key": quote.idempotency_key,
                    "street_address": quote.request.street_address,
                    "zip_code": quote.request.zip_code,
                    "created_at": quote.created_at,
                    "ready_at": quote.ready_at,
                    "pricing_seconds": quote.pricing_seconds,
                    "delay": round(quote.pricing_seconds, 3),
                    "ready_in": round(max(0.0, quote.ready_at - now), 3),
                }
                for quote in self._quotes.values()
            ]

    # --- Request handling (called from the server's threads) ----------------------------

    def handle_api(self, method: str, path: str, headers: Any, body: bytes) -> _Reply:
        """Answer one API request, counting it as in progress until the answer is ready."""
        with self._lock:
            self._active += 1
            self._stats.requests += 1
            if method == "POST" and path == contract.QUOTES_PATH:
                self._stats.submit_requests += 1
            self._stats.max_concurrent_requests_seen = max(
                self._stats.max_concurrent_requests_seen, self._active
            )
            busy = self.config.enforce_one_request and self._active > 1
            if busy:
                self._stats.rejected_concurrent += 1
        try:
            if busy:
                return self._too_many(
                    contract.CODE_BUSY,
                    "Another request is being served; send one request at a time.",
                    self.config.retry_after,
                )
            reply = self._route(method, path, headers, body)
            if reply.delay > 0:
                self._stopping.wait(reply.delay)
            return reply
        finally:
            # Before the answer is written: a client that sends its next request only after
            # reading this answer can never be counted as concurrent with it.
            with self._lock:
                self._active -= 1

    def handle_admin(self, method: str, path: str, body: bytes) -> _Reply:
        """Answer /__sandbox/ requests (stats, reset, config, quotes); no key needed."""
        name = path[len(ADMIN_PREFIX) :].strip("/")
        if name == "stats" and method == "GET":
            return _json_reply(200, self.stats())
        if name == "reset" and method == "POST":
            self.reset()
            return _json_reply(200, {"reset": True})
        if name == "quotes" and method == "GET":
            return _json_reply(200, {"quotes": self.quotes()})
        if name == "config" and method == "GET":
            return _json_reply(200, self.config.to_dict())
        if name == "config" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                config = self.configure(**changes)
            except ValueError as exc:
                return _error_reply(400, contract.CODE_BAD_REQUEST, str(exc))
            return _json_reply(200, config.to_dict())
        if name in ("stats", "reset", "quotes", "config"):
            return _error_reply(405, "method_not_allowed", f"{method} is not allowed here.")
        return _error_reply(404, contract.CODE_NOT_FOUND, f"No sandbox endpoint {path}.")

    def _route(self, method: str, path: str, headers: Any, body: bytes) -> _Reply:
        key = contract.parse_bearer(headers.get(contract.AUTHORIZATION_HEADER))
        if key != self.config.api_key:
            with self._lock:
                self._stats.rejected_unauthorized += 1
            return _error_reply(
                401,
                contract.CODE_UNAUTHORIZED,
                "Missing bearer key." if key is None else "Invalid API key.",
                {"WWW-Authenticate": 'Bearer realm="momentum"'},
            )
        if path == contract.QUOTES_PATH:
            if method != "POST":
                return _error_reply(405, "method_not_allowed", f"{method} is not allowed here.")
            handler = functools.partial(self._submit, headers, body)
        elif path.startswith(contract.QUOTES_PATH + "/") and path.count("/") == 2:
            if method != "GET":
                return _error_reply(405, "method_not_allowed", f"{method} is not allowed here.")
            quote_id = unquote(path.rsplit("/", 1)[1])
            with self._lock:
                self._stats.polls += 1
            handler = functools.partial(self._poll, quote_id)
        else:
            return _error_reply(404, contract.CODE_NOT_FOUND, f"No endpoint {method} {path}.")

        injected = self._draw_failure()
        if injected == "429":
            return self._too_many(
                contract.CODE_RATE_LIMITED, "Too many requests.", self.config.retry_after
            )
        if injected == "500":
            return _error_reply(500, contract.CODE_INTERNAL_ERROR, "Internal server error.")
        reply = handler()
        if injected == "slow":
            reply.delay = self.config.slow_seconds
        elif injected == "malformed":
            with self._lock:
                reply.body, reply.content_type = self._rng.choice(_MALFORMED_BODIES)
        return reply

    def _draw_failure(self) -> str | None:
        config = self.config
        with self._lock:
            roll = self._rng.random()
            threshold = 0.0
            for name, rate in (
                ("429", config.rate_429),
                ("500", config.rate_500),
                ("slow", config.rate_slow),
                ("malformed", config.rate_malformed),
            ):
                threshold += rate
                if roll < threshold:
                    counter = f"injected_{name}"
                    setattr(self._stats, counter, getattr(self._stats, counter) + 1)
                    return name
        return None

    def _submit(self, headers: Any, body: bytes) -> _Reply:
        try:
            request = contract.parse_submit_body(contract.decode_json(body))
        except ContractError as exc:
            return _error_reply(400, contract.CODE_BAD_REQUEST, f"Bad quote request: {exc}.")
        idempotency_key = headers.get(contract.IDEMPOTENCY_HEADER) or ""
        if len(idempotency_key) > contract.MAX_IDEMPOTENCY_KEY_LENGTH:
            return _error_reply(
                400, contract.CODE_BAD_REQUEST, "Idempotency-Key is longer than 255 characters."
            )
        config = self.config
        with self._lock:
            now = time.time()
            # The key first: a retried submit gets its quote back even while it is pending.
            existing = self._quotes.get(self._by_key.get(idempotency_key, ""))
            if idempotency_key and existing is not None:
                self._stats.idempotent_replays += 1
                return self._accepted(existing, now)
            if INVALID_ADDRESS_MARKER in request.street_address.upper():
                self._stats.rejected_invalid += 1
                return _error_reply(
                    400,
                    contract.CODE_INVALID_ADDRESS,
                    f"The address {request.street_address!r} could not be validated.",
                )
            if not (1 <= request.speed_mbps <= 100_000 and 1 <= request.term_months <= 120):
                self._stats.rejected_invalid += 1
                return _error_reply(
                    422,
                    contract.CODE_UNSUPPORTED_PRODUCT,
                    f"No product at {request.speed_mbps} Mbps for {request.term_months} months.",
                )
            pending = self._pending_count(now)
            if config.enforce_one_in_flight and pending >= config.max_in_flight:
                self._stats.rejected_in_flight += 1
                soonest = min(quote.ready_at for quote in self._pending) - now
                return self._too_many(
                    contract.CODE_QUOTE_IN_FLIGHT,
                    "A quote is already in flight for this account.",
                    math.ceil(max(soonest, 0.1) * 10) / 10,
                )
            quote = self._create(request, idempotency_key, now, in_flight=pending + 1)
        logger.info(
            "quote %s for %s, %s Mbps, %s months: %s in %.1f s",
            quote.id,
            request.street_address,
            request.speed_mbps,
            request.term_months,
            quote.outcome,
            quote.ready_at - quote.created_at,
        )
        return self._accepted(quote, now)

    def _create(
        self, request: QuoteRequest, idempotency_key: str, now: float, *, in_flight: int
    ) -> Quote:
        """A new quote (lock held): its delay and outcome are drawn now, then it is counted
        and kept (written to the state file first, so a failed write changes nothing)."""
        config = self.config
        delay = self._rng.uniform(config.delay_min, config.delay_max)
        no_coverage = request.zip_code.strip().startswith(
            tuple(config.no_coverage_zip_prefixes)
        ) or (config.rate_no_coverage > 0 and self._rng.random() < config.rate_no_coverage)
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
        stats = dataclasses.replace(
            self._stats,
            quotes_created=self._stats.quotes_created + 1,
            max_in_flight_seen=max(self._stats.max_in_flight_seen, in_flight),
            pricing_seconds_total=self._stats.pricing_seconds_total + delay,
        )
        if self._state is not None:
            self._state.save_quote(quote, stats)
            self._saved_stats = dataclasses.replace(stats)
        self._stats = stats
        self._remember(quote)
        self._pending.append(quote)
        return quote

    def _remember(self, quote: Quote) -> None:
        self._quotes[quote.id] = quote
        if quote.idempotency_key:
            self._by_key[quote.idempotency_key] = quote.id

    def _accepted(self, quote: Quote, now: float) -> _Reply:
        return _json_reply(
            202,
            contract.submitted_body(quote.id, quote.status_at(now)),
            {"Location": contract.quote_path(quote.id)},
        )

    def _poll(self, quote_id: str) -> _Reply:
        with self._lock:
            quote = self._quotes.get(quote_id)
            now = time.time()
        if quote is None:
            return _error_reply(404, contract.CODE_NOT_FOUND, f"No quote {quote_id!r}.")
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
            )
        return _json_reply(200, body, headers)

    def _pending_count(self, now: float) -> int:
        """Quotes not yet priced (lock held); priced ones leave the pending list."""
        self._pending = [quote for quote in self._pending if quote.ready_at > now]
        return len(self._pending)

    # --- The state file ---------------------------------------------------------------------

    def _restore(self, state: StateFile) -> None:
        """Take up the quotes and counters a previous sandbox left in the state file."""
        try:
            quotes, self._stats = state.load()
        except BaseException:
            state.close()
            raise
        now = time.time()
        for quote in quotes:
            self._remember(quote)
        self._pending = [quote for quote in quotes if quote.ready_at > now]
        self._restored = len(quotes)

    def _flush_periodically(self) -> None:
        # Counters change on every request; writing them at most every FLUSH_SECONDS keeps
        # polls off the disk. A new quote writes them at once (save_quote), and stop() too.
        while not self._stopping.wait(FLUSH_SECONDS):
            self._flush_stats()

    def _flush_stats(self) -> None:
        with self._lock:
            self._write_stats()

    def _write_stats(self) -> None:
        """Write the counters if they changed since the last write (lock held)."""
        if self._state is None or self._stats == self._saved_stats:
            return
        try:
            self._state.save_stats(self._stats)
        except sqlite3.Error:
            logger.exception("could not write the sandbox's counters to %s", self._state.path)
            return
        self._saved_stats = dataclasses.replace(self._stats)

    def _close_state(self) -> None:
        """Write the counters and release the file; later counts stay in memory only."""
        with self._lock:
            if self._state is not None:
                self._write_stats()
                self._state.close()
                self._state = None

    def _too_many(self, code: str, message: str, retry_after: float) -> _Reply:
        return _error_reply(
            429,
            code,
            message,
            {contract.RETRY_AFTER_HEADER: contract.format_retry_after(retry_after)},
        )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    sandbox: SandboxServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn), which can stall startup.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (say, after its read timeout) is normal here; keep it quiet.
        logger.debug("error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "MomentumSandbox/1.0"
    # A client that connects and sends nothing must not hold a thread for ever.
    timeout = 30

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        sandbox = self.server.sandbox
        path = urlsplit(self.path).path
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._write(
                _error_reply(413, contract.CODE_BAD_REQUEST, "Bad or too large Content-Length.")
            )
            return
        body = self.rfile.read(length) if length > 0 else b""
        try:
            if path.startswith(ADMIN_PREFIX):
                reply = sandbox.handle_admin(method, path, body)
            else:
                reply = sandbox.handle_api(method, path, self.headers, body)
        except Exception:
            logger.exception("failed to answer %s %s", method, path)
            reply = _error_reply(500, contract.CODE_INTERNAL_ERROR, "Sandbox error.")
        self._write(reply)

    def _write(self, reply: _Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client hung up before the answer to %s", self.path)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
