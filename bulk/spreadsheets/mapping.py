"""Which column holds what: `ColumnMap`, the header's names, a layout's signature, a guess.

A column can feed one of `FIELDS`. The header's names are compared with aliases after
`normalize_header`; a file with no header has its columns guessed from its cells. A
user's choice of columns is remembered by the layout's signature: the header's names, or
for a file with no header its width and which columns hold numbers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bulk.spreadsheets.cells import column_letter, trimmed
from quotes.addresses import normalize_state, normalize_zip

# Columns after the last named header are ignored; this many named ones at most.
MAX_COLUMNS = 200

# The fields a column can feed. `address` is one full address ("12 Main St, Boston, MA").
# `speed` and `term` are optional: a row's own speed and term (quotes.options reads them).
FIELDS = ("street", "unit", "city", "state", "zip", "address", "speed", "term")
FIELD_LABELS = {
    "street": "Street address",
    "unit": "Unit / suite",
    "city": "City",
    "state": "State",
    "zip": "ZIP code",
    "address": "Full address (one column)",
    "speed": "Speed",
    "term": "Term",
}

# Header aliases, compared after `normalize_header` (lower case, letters and digits only).
HEADER_ALIASES = {
    "street": {
        "street",
        "streetaddress",
        "streetaddress1",
        "street1",
        "address1",
        "addressline1",
        "addr",
        "addr1",
        "serviceaddress",
        "siteaddress",
    },
    "unit": {
        "unit",
        "suite",
        "apt",
        "apartment",
        "unitsuite",
        "suiteunit",
        "ste",
        "address2",
        "addressline2",
        "street2",
        "streetaddress2",
        "addr2",
    },
    "city": {"city", "town", "citytown", "cityname"},
    "state": {"state", "st", "province", "stateprovince", "stateorprovince", "statecode"},
    "zip": {
        "zip",
        "zipcode",
        "zip5",
        "zip4",
        "zipplus4",
        "postalcode",
        "postcode",
        "postal",
        "zippostalcode",
        "zippostal",
    },
    "address": {"fulladdress", "completeaddress", "addressfull", "onelineaddress"},
    "speed": {
        *("speed", "speedmbps", "bandwidth", "bandwidthmbps", "mbps", "bw", "circuitsize"),
        *("circuitspeed", "portspeed", "accessspeed", "speedrequested", "requestedspeed"),
        *("bandwidthrequested", "requestedbandwidth", "speedgbps", "bandwidthgbps"),
    },
    "term": {
        *("term", "termmonths", "termmos", "termmo", "termyears", "contractlength"),
        *("contractterm", "termlength", "contractmonths", "contracttermmonths", "months"),
        *("lengthofcontract", "contractlengthmonths", "termrequested", "requestedterm"),
    },
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
# "Address" is the street when city and state have columns of their own, else all of it.
_AMBIGUOUS_ADDRESS = {"address", "location", "siteaddressfull"}

_HEADER_JUNK_RE = re.compile(r"[\W_]+")
_STREET_LIKE_RE = re.compile(r"^\d+[A-Za-z]?\s+\S+")

NEEDED_COLUMNS_TEXT = "street address, city and state (and ZIP code), or one full address"


def normalize_header(text: str) -> str:
    """`Street Address`, `street_address` and ` STREET-ADDRESS: ` all become `streetaddress`."""
    return _HEADER_JUNK_RE.sub("", text.casefold())


def header_field(text: str) -> str | None:
    """The address field a header names, or None (an ambiguous "Address" is the street)."""
    key = normalize_header(text)
    if key in _AMBIGUOUS_ADDRESS:
        return "street"
    return _ALIAS_TO_FIELD.get(key)


def column_index(text: str, columns: list[str]) -> int:
    """A column named by its header, its letter (B) or its 1-based number (2)."""
    text = text.strip()
    folded = [c.casefold() for c in columns]
    if text.casefold() in folded:
        return folded.index(text.casefold())
    if text.isdigit() and 1 <= int(text) <= MAX_COLUMNS:
        return int(text) - 1
    if text.isalpha() and text.isascii() and len(text) <= 2:
        index = 0
        for char in text.upper():
            index = index * 26 + ord(char) - 64
        if index <= MAX_COLUMNS:
            return index - 1
    raise ValueError(f'No column "{text}": use a header name, a letter (B) or a number (2).')


@dataclass
class ColumnMap:
    """Which column (0-based) feeds each field, whether row `header_row` is a header."""

    columns: dict[str, int]
    has_header: bool = True
    # The header's row in the sheet; None: found by looking (or the first row when given).
    header_row: int | None = None
    sheet: str | None = None
    # Columns named by the user as text ("B", "2", "Street Name"), resolved on reading.
    named: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: dict[str, object], *, has_header: bool = True) -> ColumnMap:
        """From {"street": "B", "city": 3, "zip": "Postal Code"}; raise ValueError."""
        unknown = sorted(set(spec) - set(FIELDS))
        if unknown:
            raise ValueError(f"Unknown field {', '.join(unknown)}: use {', '.join(FIELDS)}.")
        return cls(columns={}, has_header=has_header, named={k: str(v) for k, v in spec.items()})

    def as_json(self) -> dict:
        return {
            "columns": dict(self.columns),
            "has_header": self.has_header,
            "header_row": self.header_row,
            "sheet": self.sheet,
        }

    @classmethod
    def from_json(cls, data: dict) -> ColumnMap:
        columns = {
            str(k): int(v)
            for k, v in (data.get("columns") or {}).items()
            if k in FIELDS and v is not None
        }
        header_row = data.get("header_row")
        return cls(
            columns=columns,
            has_header=bool(data.get("has_header", True)),
            header_row=int(header_row) if header_row else None,
            sheet=data.get("sheet") or None,
        )

    def missing(self) -> list[str]:
        """The fields still needed: a full address, or street, city and state."""
        if "address" in self.columns:
            return []
        return [f for f in ("street", "city", "state") if f not in self.columns]


def header_columns(cells: list[str]) -> dict[str, int]:
    """Which column feeds each field, from a header's names (the first of a name counts)."""
    found: dict[str, int] = {}
    for index, text in enumerate(cells):
        name = header_field(text)
        if name and name not in found:
            found[name] = index
    if "street" in found and not {"city", "state"} & found.keys() and "address" not in found:
        # An address column and no city or state columns: it holds the whole address.
        found["address"] = found.pop("street")
    if "address" in found and {"street", "city", "state"} <= found.keys():
        del found["address"]
    return found


def header_signature(cells: Iterable[str]) -> str:
    """Identity of a header: its names, normalised, in order."""
    names = [normalize_header(c) for c in cells]
    while names and not names[-1]:
        names.pop()
    return _signature("h", "|".join(names))


def headerless_signature(rows: list[list[str]]) -> str:
    """Identity of a file with no header: its width and which columns hold numbers."""
    width = max((len(trimmed(r)) for r in rows), default=0)
    kinds = []
    for index in range(width):
        values = [r[index] for r in rows if index < len(r) and r[index]]
        digits = sum(1 for v in values if v.replace("-", "").isdigit())
        kinds.append("n" if values and digits * 2 > len(values) else "t")
    return _signature("n", f"{width}:{''.join(kinds)}")


def _signature(kind: str, layout: str) -> str:
    """`<kind>:` and a digest of the layout: 22 characters whatever the file, so that it
    fits the signature columns (64) of StagedUpload and ColumnMapping."""
    # Not a secret: a digest only to make any layout short. (Headerless signatures were
    # the layout itself until a file of 60 columns overflowed the column: those stored
    # before no longer match, and the user chooses that file's columns once more.)
    return f"{kind}:" + hashlib.sha1(layout.encode(), usedforsecurity=False).hexdigest()[:20]


def guess_columns(rows: list[list[str]]) -> dict[str, int]:
    """Which column holds what in a file with no header, from its cells."""
    width = max((len(r) for r in rows), default=0)
    scores: dict[str, list[float]] = {"street": [], "state": [], "zip": [], "address": []}
    for index in range(width):
        values = [r[index] for r in rows if index < len(r) and r[index]]
        count = len(values) or 1
        scores["state"].append(sum(1 for v in values if normalize_state(v)) / count)
        scores["zip"].append(sum(1 for v in values if len(v) >= 4 and normalize_zip(v)) / count)
        scores["street"].append(sum(1 for v in values if _STREET_LIKE_RE.match(v)) / count)
        scores["address"].append(
            sum(1 for v in values if _STREET_LIKE_RE.match(v) and v.count(",") >= 2) / count
        )
    found: dict[str, int] = {}
    for name in ("address", "state", "zip", "street"):
        taken = set(found.values())
        best = max(
            (i for i in range(width) if i not in taken),
            key=lambda i, n=name: scores[n][i],
            default=None,
        )
        if best is not None and scores[name][best] >= 0.6:
            found[name] = best
    if "address" in found and not {"state", "zip"} & found.keys():
        return {"address": found["address"]}
    found.pop("address", None)
    if "street" in found and "state" in found:
        # The city is the text column between the street and the state.
        between = [i for i in range(found["street"] + 1, found["state"]) if i not in found.values()]
        if between:
            found["city"] = between[-1]
    return found


def mapping_problem(mapping: ColumnMap, columns: list[str]) -> str:
    """Why the columns can't be read yet, for the user ("" when they can)."""
    missing = mapping.missing()
    bad = [f for f, i in mapping.columns.items() if i >= len(columns)]
    if bad:
        return f"The file has no column {column_letter(max(mapping.columns[f] for f in bad))}."
    if not missing:
        return ""
    labels = ", ".join(FIELD_LABELS[f] for f in missing)
    return (
        f"Choose the column{'s' if len(missing) > 1 else ''} for: {labels}. "
        f"The file needs columns for {NEEDED_COLUMNS_TEXT}."
    )
