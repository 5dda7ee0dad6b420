"""The sandbox server: its life (start, stop, the state file's flusher) and its controls.

A SandboxServer puts together the ledger (ledger.py: quotes and counters), the contract's
endpoints (endpoints.py, with faults.py) and the HTTP layer (httpd.py), and answers the
control endpoints under /__sandbox/ (stats, reset, config, quotes) itself.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

from momentum import contract
from momentum.sandbox.config import SandboxConfig
from momentum.sandbox.endpoints import QuoteEndpoints
from momentum.sandbox.httpd import SandboxHTTPServer
from momentum.sandbox.ledger import Ledger
from momentum.sandbox.replies import Reply, error_reply, json_reply, not_allowed
from momentum.sandbox.state import FLUSH_SECONDS

ADMIN_PREFIX = "/__sandbox/"
_ADMIN_ENDPOINTS = ("stats", "reset", "quotes", "config")


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
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._flusher: threading.Thread | None = None
        self._ledger = Ledger(seed=self.config.seed, state_path=state_path)
        self._endpoints = QuoteEndpoints(self.config, self._ledger, self._stopping)
        try:
            self._httpd = SandboxHTTPServer((host, port), self.answer)
        except BaseException:
            self._ledger.close()
            raise
        self.host, self.port = self._httpd.server_address[:2]

    @property
    def state_path(self) -> Path | None:
        """The state file, or None for a sandbox that keeps everything in memory."""
        return self._ledger.state_path

    @property
    def quotes_restored(self) -> int:
        """How many quotes this sandbox read back from its state file when it started."""
        return self._ledger.restored

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
        if self._ledger.keeps_state and self._flusher is None:
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
        self._ledger.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _flush_periodically(self) -> None:
        # Counters change on every request; writing them at most every FLUSH_SECONDS keeps
        # polls off the disk. A new quote writes them at once (save_quote), and stop() too.
        while not self._stopping.wait(FLUSH_SECONDS):
            self._ledger.flush_stats()

    # --- Controls (also on /__sandbox/) ------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters since the last reset, and the quotes pending now."""
        return self._ledger.counters(self.config.api_keys)

    def reset(self) -> None:
        """Forget every quote, idempotency key and counter (in the state file too); reseed."""
        self._ledger.reset(self.config.seed)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change settings (as the config endpoint does); ValueError for a bad one."""
        candidate = self.config.changed(**changes)
        with self._ledger.lock:
            for setting in dataclasses.fields(candidate):
                setattr(self.config, setting.name, getattr(candidate, setting.name))
            if "seed" in changes:
                self._ledger.rng.seed(self.config.seed)
        return self.config

    def quotes(self) -> list[dict[str, Any]]:
        """Every quote the sandbox holds, oldest first (for tests and debugging)."""
        return self._ledger.describe_quotes()

    # --- Requests (called from the server's threads) -------------------------------------------

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """Answer one request: the controls under /__sandbox/, else the contract's API."""
        if path.startswith(ADMIN_PREFIX):
            return self.handle_admin(method, path, body)
        return self.handle_api(method, path, headers, body)

    def handle_api(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """Answer one API request, counting it as in progress until the answer is ready."""
        return self._endpoints.answer(method, path, headers, body)

    def handle_admin(self, method: str, path: str, body: bytes) -> Reply:
        """Answer /__sandbox/ requests (stats, reset, config, quotes); no key needed."""
        name = path[len(ADMIN_PREFIX) :].strip("/")
        if name == "stats" and method == "GET":
            return json_reply(200, self.stats())
        if name == "reset" and method == "POST":
            self.reset()
            return json_reply(200, {"reset": True})
        if name == "quotes" and method == "GET":
            return json_reply(200, {"quotes": self.quotes()})
        if name == "config" and method == "GET":
            return json_reply(200, self.config.to_dict())
        if name == "config" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                config = self.configure(**changes)
            except ValueError as exc:
                return error_reply(400, contract.CODE_BAD_REQUEST, str(exc))
            return json_reply(200, config.to_dict())
        if name in _ADMIN_ENDPOINTS:
            return not_allowed(method)
        return error_reply(404, contract.CODE_NOT_FOUND, f"No sandbox endpoint {path}.")
