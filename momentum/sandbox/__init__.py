"""A local Momentum: a real threaded HTTP server implementing the contract (contract.py).

Used by `manage.py momentum_sandbox` (development, demos) and by tests (`SandboxServer` on a
free port in a thread). It prices quotes after a configurable delay, deterministically from
the address, refuses a second quote while one is pending (429 + Retry-After), refuses a
request that arrives while another is being served, honours Idempotency-Key, injects
failures at configurable rates, and counts all of it on `GET /__sandbox/stats`. With several
keys (accounts), each has its own quotes, limits and counters, and can be revoked. Given a
state file (state.py), it keeps its quotes and counters across restarts, as the real
service would.

The modules: server.py (SandboxServer: start, stop, the /__sandbox/ controls), endpoints.py
(the contract's POST /quotes and GET /quotes/{id}), faults.py (failure injection), ledger.py
(the quotes and counters in memory, under one lock), counters.py (the counters, in total and
per key), state.py (the state file), httpd.py (reading requests, writing replies.py's
answers), config.py and pricing.py.

See docs/momentum.md for every option and the addresses that always fail.
"""

from momentum.sandbox.config import SandboxConfig
from momentum.sandbox.endpoints import INVALID_ADDRESS_MARKER, NO_COVERAGE_MESSAGE
from momentum.sandbox.pricing import CARRIERS, normalise_address, price_quote
from momentum.sandbox.server import SandboxServer
from momentum.sandbox.state import StateError

__all__ = [
    "CARRIERS",
    "INVALID_ADDRESS_MARKER",
    "NO_COVERAGE_MESSAGE",
    "SandboxConfig",
    "SandboxServer",
    "StateError",
    "normalise_address",
    "price_quote",
]
