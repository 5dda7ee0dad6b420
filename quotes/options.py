"""Speeds and terms as people write them, read into what Momentum sells.

"1 Gbps", "1G", "1000", "500M" and "500 Mbps" are speeds; "36", "36 mo", "3 yr" and
"3 years" are terms. A value that can't be read, or names a speed or term Momentum does
not sell, raises `OptionError` with the reason, for the user ("Speed '750 Mbps' is not
one Momentum sells: 500 Mbps or 1 Gbps?"). The single-quote form, the API, the upload
form, `submit_batch` and a file's Speed and Term columns all read them here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from quotes.models import SPEEDS_MBPS, TERMS_MONTHS

# A job asks for at most this many speed/term options per address.
MAX_OPTIONS = 4

# Units, compared lower case with spaces, dots and "/s" or "ps" endings kept as written.
_MBPS_UNITS = {"m", "mb", "mbs", "mbps", "mbit", "mbits", "mbit/s", "mb/s", "meg", "megs"}
_MBPS_UNITS |= {"megabit", "megabits", "mbp", "mbps.", "megabit/s", "megabits/s"}
_GBPS_UNITS = {"g", "gb", "gbs", "gbps", "gbit", "gbits", "gbit/s", "gb/s", "gig", "gigs"}
_GBPS_UNITS |= {"gigabit", "gigabits", "gbp", "gbe", "ge", "gigabit/s", "gigabits/s"}
_MONTH_UNITS = {"m", "mo", "mos", "mon", "mth", "mths", "month", "months"}
_YEAR_UNITS = {"y", "yr", "yrs", "year", "years"}

_VALUE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*-?\s*([a-z/.]*)$")
# A bare number up to this is read in Gbps ("1", "10"): nobody sells 10 Mbps circuits.
_BARE_GBPS_UP_TO = 10
# A bare number up to this is read in years ("3"): nobody sells 3-month circuits.
_BARE_YEARS_UP_TO = 5


class OptionError(ValueError):
    """A speed or term that can't be read or isn't sold: `message` for the user, `reason`
    short, for counting ("Speed not sold")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


def speed_label(mbps: int) -> str:
    """1000 -> "1 Gbps", 500 -> "500 Mbps"."""
    if mbps >= 1000 and mbps % 1000 == 0:
        return f"{mbps // 1000} Gbps"
    return f"{mbps} Mbps"


def term_label(months: int, *, short: bool = False) -> str:
    """36 -> "36 months" ("36 mo" when short)."""
    return f"{months} mo" if short else f"{months} months"


@dataclass(frozen=True, order=True)
class Option:
    """One speed and term a job asks Momentum to price for each address."""

    speed_mbps: int
    term_months: int

    @property
    def label(self) -> str:
        """ "1 Gbps · 36 mo": how results and pages head the option."""
        return f"{speed_label(self.speed_mbps)} · {term_label(self.term_months, short=True)}"

    def as_json(self) -> dict:
        return {"speed_mbps": self.speed_mbps, "term_months": self.term_months}


def _number_and_unit(text: str) -> tuple[float, str] | None:
    cleaned = text.strip().casefold().replace(",", "")
    match = _VALUE_RE.match(cleaned)
    if match is None:
        return None
    return float(match.group(1)), match.group(2).rstrip(".")


def _nearest(value: float, sold: tuple[int, ...], label) -> str:
    """The sold values either side of `value`: "500 Mbps or 1 Gbps"."""
    below = [s for s in sold if s < value]
    above = [s for s in sold if s > value]
    near = ([below[-1]] if below else []) + ([above[0]] if above else [])
    return " or ".join(label(s) for s in near)


@dataclass(frozen=True)
class _Quantity:
    """How a speed or a term is written: its name, its units (small and large), how many
    small make a large, the bare numbers read as large, what is sold, an example."""

    name: str
    small: frozenset[str]
    large: frozenset[str]
    factor: int
    bare_large_up_to: int
    sold: tuple[int, ...]
    label: Callable[[int], str]
    example: str


_SPEED = _Quantity(
    "Speed", frozenset(_MBPS_UNITS), frozenset(_GBPS_UNITS), 1000, _BARE_GBPS_UP_TO,
    SPEEDS_MBPS, speed_label, "1 Gbps or 500 Mbps",
)  # fmt: skip
_TERM = _Quantity(
    "Term", frozenset(_MONTH_UNITS), frozenset(_YEAR_UNITS), 12, _BARE_YEARS_UP_TO,
    TERMS_MONTHS, term_label, "36 months or 3 years",
)  # fmt: skip


def _parse(text: object, quantity: _Quantity) -> int:
    """The sold value (in small units) that `text` names; raise OptionError."""
    written, name = str(text).strip(), quantity.name
    read = _number_and_unit(written)
    if read is None or read[1] not in quantity.small | quantity.large | {""}:
        raise OptionError(
            f"{name} '{written}' can't be read: write it like {quantity.example}.",
            f"{name} unreadable",
        )
    number, unit = read
    if unit in quantity.large or (not unit and number <= quantity.bare_large_up_to):
        number *= quantity.factor
    if number in quantity.sold:
        return int(number)
    raise OptionError(
        f"{name} '{written}' is not one Momentum sells: "
        f"{_nearest(number, quantity.sold, quantity.label)}?",
        f"{name} not sold",
    )


def parse_speed(text: object) -> int:
    """The speed in Mbps Momentum sells that `text` names; raise OptionError."""
    return _parse(text, _SPEED)


def parse_term(text: object) -> int:
    """The term in months Momentum sells that `text` names; raise OptionError."""
    return _parse(text, _TERM)


def parse_option(text: str) -> Option:
    """ "1000x36", "1G x 3 yr": one option; raise OptionError."""
    parts = re.split(r"\s*[x\u00d7]\s*(?=\d)", text.strip(), maxsplit=1)
    if len(parts) != 2:
        raise OptionError(
            f"Option '{text}' can't be read: write it as speed x term, like 1000x36.",
            "Option unreadable",
        )
    return Option(parse_speed(parts[0]), parse_term(parts[1]))


def check_options(options: list[Option]) -> list[Option]:
    """A job's options as asked: at least one, at most MAX_OPTIONS, none twice; raise
    OptionError."""
    if not options:
        raise OptionError("Ask for at least one speed and term.", "No option")
    if len(options) > MAX_OPTIONS:
        raise OptionError(
            f"Ask for at most {MAX_OPTIONS} speed and term options per address.",
            "Too many options",
        )
    seen: set[Option] = set()
    for option in options:
        if option in seen:
            raise OptionError(f"{option.label} is asked for twice.", "Option twice")
        seen.add(option)
    return list(options)


def asked_options(data: object, *, speed_mbps: int, term_months: int) -> list[Option]:
    """A job's options as kept (a list of {"speed_mbps", "term_months"}); with none kept,
    its one speed and term."""
    if isinstance(data, list) and data:
        return [Option(int(o["speed_mbps"]), int(o["term_months"])) for o in data]
    return [Option(speed_mbps, term_months)]


def row_options(options: list[Option], *, speed_mbps: int | None, term_months: int | None):
    """One row's options, in order: its own speed and term first (where its file gives
    them; a blank is the first option's), then the job's others, none asked twice."""
    first = options[0]
    own = Option(speed_mbps or first.speed_mbps, term_months or first.term_months)
    found = [own]
    for option in options[1:]:
        if option not in found:
            found.append(option)
    return found
