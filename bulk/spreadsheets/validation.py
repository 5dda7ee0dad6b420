"""Checking one row's address and putting it in USPS form.

A row is valid when it has a street, city and state (in their own columns, or one full
address that can be split), the state is a US state, the ZIP code is well formed (or the
city has only one) and lies in that state. Every problem is kept, for the user (the
message) and for counting (a short reason).
"""

from __future__ import annotations

from dataclasses import dataclass

from bulk.spreadsheets.cells import Cell, cell_text, is_formula_like
from bulk.spreadsheets.mapping import FIELD_LABELS
from quotes.addresses import (
    AddressError,
    check_zip_state,
    normalise_address,
    normalize_state,
    normalize_zip,
    split_one_line,
    zip_for_city,
)
from quotes.options import OptionError, parse_speed, parse_term

MAX_STREET_CHARS = 200
MAX_CITY_CHARS = 100


@dataclass(slots=True)
class ValidRow:
    row_number: int
    street_address: str
    city: str
    state: str
    zip_code: str
    address_key: str
    cells: list[Cell]
    # The row's own speed and term (its Speed and Term columns); None: the job's.
    speed_mbps: int | None = None
    term_months: int | None = None


class RowCheck:
    """What is wrong with one row: a message for the user and a countable reason each."""

    __slots__ = ("errors", "reasons")

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.reasons: list[str] = []

    def fail(self, reason: str, message: str) -> None:
        self.errors.append(message)
        self.reasons.append(reason)


def validate_row(cells: list[Cell], columns: dict[str, int]) -> tuple[ValidRow | None, RowCheck]:
    """The row's address, checked and in USPS form (None if it fails), and its problems.

    `columns` is which column feeds each field. The ValidRow's row number and cells are
    left for the caller to fill.
    """
    check = RowCheck()
    written = _written_address(cells, columns, check)
    if written is None:
        return None, check
    street, city, state_text, zip_text = written
    speed, term = _speed_and_term(cells, columns, check)
    _check_lengths(street, city, check)
    _check_formulas({"street": street, "city": city}, check)
    state = _state(state_text, check)
    zip_code = _zip_code(zip_text, check)
    if check.errors or state is None:
        return None, check
    if zip_code is None:
        zip_code = _only_zip_of_city(city, state, check)
        if zip_code is None:
            return None, check
    mismatch = check_zip_state(zip_code, state)
    if mismatch:
        check.fail("ZIP and state disagree", mismatch)
        return None, check
    unit = _field_text(cells, columns, "unit")
    address = normalise_address(street=street, unit=unit, city=city, state=state, zip_code=zip_code)
    valid = ValidRow(0, address.street, address.city, state, zip_code, address.key, [])
    valid.speed_mbps, valid.term_months = speed, term
    return valid, check


def _speed_and_term(
    cells: list[Cell], columns: dict[str, int], check: RowCheck
) -> tuple[int | None, int | None]:
    """The row's own speed and term, read as people write them; None where the cell is
    empty (the job's), or unreadable or not sold (a problem of the row)."""
    read: list[int | None] = []
    for name, parse in (("speed", parse_speed), ("term", parse_term)):
        text = _field_text(cells, columns, name) if name in columns else ""
        value = None
        if text:
            try:
                value = parse(text)
            except OptionError as error:
                check.fail(error.reason, error.message)
        read.append(value)
    return read[0], read[1]


def _field_text(cells: list[Cell], columns: dict[str, int], name: str) -> str:
    """The text of the cell that feeds a field, its runs of white space made one space."""
    index = columns.get(name)
    if index is None or index >= len(cells):
        return ""
    text = cell_text(cells[index])
    if "  " in text or "\n" in text or "\t" in text:
        return " ".join(text.split())
    return text


def _written_address(
    cells: list[Cell], columns: dict[str, int], check: RowCheck
) -> tuple[str, str, str, str] | None:
    """Street, city, state and ZIP code as the row writes them (each may be empty); None
    when its one full address is missing or can't be split."""
    if "address" in columns:
        return _split_address(cells, columns, check)
    street = _field_text(cells, columns, "street")
    city = _field_text(cells, columns, "city")
    state_text = _field_text(cells, columns, "state")
    for name, text in (("street", street), ("city", city), ("state", state_text)):
        if not text:
            check.fail(f"{FIELD_LABELS[name]} missing", f"{FIELD_LABELS[name]} is missing")
    return street, city, state_text, _field_text(cells, columns, "zip")


def _split_address(
    cells: list[Cell], columns: dict[str, int], check: RowCheck
) -> tuple[str, str, str, str] | None:
    """A full address split into its parts; a ZIP code column of its own comes first."""
    line = _field_text(cells, columns, "address")
    if not line:
        check.fail("Address missing", "Address is missing")
        return None
    try:
        split = split_one_line(line)
    except AddressError as error:
        check.fail("Address can't be split", str(error))
        return None
    zip_text = _field_text(cells, columns, "zip") or split.zip_code
    return split.street, split.city, split.state, zip_text


def _check_lengths(street: str, city: str, check: RowCheck) -> None:
    if len(street) > MAX_STREET_CHARS:
        check.fail("Too long", f"Street address is longer than {MAX_STREET_CHARS} characters")
    if len(city) > MAX_CITY_CHARS:
        check.fail("Too long", f"City is longer than {MAX_CITY_CHARS} characters")


def _check_formulas(texts: dict[str, str], check: RowCheck) -> None:
    """Text a spreadsheet would run as a formula (`=HYPERLINK(...)`) is not an address:
    it is not sent to Momentum. (Not the unit: "-" there is a common "no unit".)"""
    for name, text in texts.items():
        if is_formula_like(text):
            check.fail(
                "Formula, not an address",
                f'{FIELD_LABELS[name]} "{text[:40]}" is a spreadsheet formula, not an address',
            )


def _state(text: str, check: RowCheck) -> str | None:
    """The USPS code of the state written (None when it is empty or not a state)."""
    state = normalize_state(text) if text else None
    if text and state is None:
        check.fail("Not a US state", f'State "{text[:40]}" is not a US state or USPS code')
    return state


def _zip_code(text: str, check: RowCheck) -> str | None:
    """The ZIP code written, as 5 digits or ZIP+4 (None when it is empty or malformed)."""
    zip_code = normalize_zip(text) if text else None
    if text and zip_code is None:
        check.fail(
            "ZIP code not valid",
            f'ZIP code "{text[:20]}" is not 5 digits or ZIP+4 (12345-6789)',
        )
    return zip_code


def _only_zip_of_city(city: str, state: str, check: RowCheck) -> str | None:
    """A row without a ZIP code takes its city's, when the city has only one."""
    zip_code = zip_for_city(city, state)
    if zip_code is None:
        check.fail(
            "ZIP code missing",
            f"ZIP code is missing, and {city[:40]}, {state} has more than one (or none we know)",
        )
    return zip_code
