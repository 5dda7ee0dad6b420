"""`manage.py momentum_sandbox`: run the local Momentum API until interrupted."""

from __future__ import annotations

import dataclasses
import signal
import threading
from argparse import ArgumentParser, ArgumentTypeError, _ArgumentGroup
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from momentum.sandbox import SandboxConfig, SandboxServer, StateError


def _delay_range(value: str) -> tuple[float, float]:
    """MIN:MAX seconds, or one number for a fixed delay."""
    low, _, high = value.partition(":")
    try:
        low_seconds = float(low)
        high_seconds = float(high) if high else low_seconds
    except ValueError:
        raise ArgumentTypeError(f"expected MIN:MAX seconds, got {value!r}") from None
    if not 0 <= low_seconds <= high_seconds:
        raise ArgumentTypeError(f"expected 0 <= MIN <= MAX, got {value!r}")
    return low_seconds, high_seconds


def _rate(value: str) -> float:
    """A probability between 0 and 1."""
    try:
        rate = float(value)
    except ValueError:
        raise ArgumentTypeError(f"expected a rate between 0 and 1, got {value!r}") from None
    if not 0 <= rate <= 1:
        raise ArgumentTypeError(f"expected a rate between 0 and 1, got {value!r}")
    return rate


def _add_server_arguments(group: _ArgumentGroup, defaults: SandboxConfig) -> None:
    group.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
    group.add_argument("--port", type=int, default=8001, help="Port to listen on (0: a free one).")
    group.add_argument(
        "--state",
        default=None,
        metavar="PATH",
        help=(
            "Keep quotes, idempotency keys and counters in this SQLite file (created, "
            "with its folder, if missing), so a restarted sandbox still knows them. "
            "Default: in memory only."
        ),
    )
    group.add_argument(
        "--api-key",
        dest="api_keys",
        action="append",
        default=None,
        metavar="KEY",
        help=(
            "A bearer key to accept; repeat it for several accounts, each with its own "
            f"quotes, limits and counters (default {defaults.api_key})."
        ),
    )


def _add_quote_arguments(group: _ArgumentGroup, defaults: SandboxConfig) -> None:
    group.add_argument(
        "--delay",
        type=_delay_range,
        default=(defaults.delay_min, defaults.delay_max),
        metavar="MIN:MAX",
        help="Seconds until a quote is priced, drawn uniformly (default 3:8).",
    )
    group.add_argument("--seed", type=int, default=None, help="Seed for every draw.")
    group.add_argument(
        "--no-coverage-zips",
        default=",".join(defaults.no_coverage_zip_prefixes),
        metavar="PREFIX,...",
        help="ZIP prefixes that always fail with no coverage (default 999).",
    )
    group.add_argument(
        "--poll-retry-after",
        type=float,
        default=None,
        help="Retry-After hint on a pending quote's answer (default none).",
    )


def _add_refusal_arguments(group: _ArgumentGroup, defaults: SandboxConfig) -> None:
    group.add_argument(
        "--max-in-flight",
        type=int,
        default=defaults.max_in_flight,
        help="Quotes of one key that may be pending at once before its next gets 429 (default 1).",
    )
    group.add_argument(
        "--no-one-in-flight",
        dest="enforce_one_in_flight",
        action="store_false",
        help="Accept new quotes while others are pending (still counted in the stats).",
    )
    group.add_argument(
        "--no-one-request",
        dest="enforce_one_request",
        action="store_false",
        help="Serve concurrent requests with the same key instead of refusing them with 429.",
    )
    group.add_argument(
        "--retry-after",
        type=float,
        default=defaults.retry_after,
        help="Retry-After seconds on injected 429s and concurrent refusals (default 1).",
    )


def _add_fault_arguments(group: _ArgumentGroup, defaults: SandboxConfig) -> None:
    for name, what in (
        ("429", "answer 429 with Retry-After"),
        ("500", "answer 500"),
        ("slow", "answer after --slow-seconds"),
        ("malformed", "answer with a body that is not valid JSON"),
        ("no-coverage", "price a new quote as failed with no coverage"),
    ):
        group.add_argument(
            f"--rate-{name}", type=_rate, default=0.0, metavar="RATE", help=f"Share to {what}."
        )
    group.add_argument(
        "--slow-seconds",
        type=float,
        default=defaults.slow_seconds,
        help="How late a slow answer comes (default 25, above the client's read timeout).",
    )


def _config(options: dict[str, Any]) -> SandboxConfig:
    """The sandbox's settings from the command's options, most named as the fields."""
    named = {
        field.name: options[field.name]
        for field in dataclasses.fields(SandboxConfig)
        if field.name in options
    }
    if options.get("api_keys"):
        named["api_keys"] = tuple(options["api_keys"])
    else:
        named.pop("api_keys", None)
    return SandboxConfig(
        **named,
        delay_min=options["delay"][0],
        delay_max=options["delay"][1],
        no_coverage_zip_prefixes=tuple(
            prefix.strip() for prefix in options["no_coverage_zips"].split(",") if prefix
        ),
    )


def _keys(config: SandboxConfig) -> str:
    """The keys it accepts, for its first line: "key 'k'" or "keys 'a', 'b'"."""
    if len(config.api_keys) == 1:
        return f"key {config.api_key!r}"
    return "keys " + ", ".join(repr(key) for key in config.api_keys)


class Command(BaseCommand):
    help = (
        "Run the Momentum sandbox: a local HTTP server that implements the Momentum API "
        "contract, with configurable delays and failure injection (docs/momentum.md)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        defaults = SandboxConfig()
        _add_server_arguments(parser.add_argument_group("server"), defaults)
        _add_quote_arguments(parser.add_argument_group("quotes"), defaults)
        _add_refusal_arguments(parser.add_argument_group("refusals (429)"), defaults)
        _add_fault_arguments(parser.add_argument_group("failure injection"), defaults)

    def handle(self, *args: Any, **options: Any) -> None:
        config = _config(options)
        try:
            server = SandboxServer(
                config, host=options["host"], port=options["port"], state_path=options["state"]
            )
        except StateError as exc:
            raise CommandError(f"Cannot use the state file: {exc}") from None
        except ValueError as exc:
            raise CommandError(f"Bad sandbox settings: {exc}") from None
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from None

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        server.start()
        if server.state_path is None:
            kept = "state in memory"
        else:
            kept = f"state in {server.state_path}, {server.quotes_restored} quotes kept"
        self.stdout.write(
            f"Momentum sandbox listening on {server.url} "
            f"({_keys(config)}, quotes priced in {config.delay_min:g}-"
            f"{config.delay_max:g} s, stats at {server.url}/__sandbox/stats, {kept})"
        )
        self.stdout.flush()
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            self.stdout.write("Momentum sandbox stopped.")
