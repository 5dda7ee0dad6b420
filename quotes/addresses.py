"""US addresses: state codes and ZIP codes, shared by the single-quote form and bulk
uploads (quotes sits below bulk, so both import it from here)."""

from __future__ import annotations

import re

US_STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "AS": "American Samoa",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
}
_STATE_NAMES = {re.sub(r"[^a-z]+", " ", n.lower()).strip(): c for c, n in US_STATES.items()}
_STATE_NAMES |= {"washington dc": "DC", "washington d c": "DC", "virgin islands": "VI"}
_STATE_NAMES |= {"us virgin islands": "VI", "u s virgin islands": "VI"}

_ZIP_RE = re.compile(r"([0-9]{3,5})(?:\s*[-\u2013]\s*|\s+)?([0-9]{4})?", re.ASCII)


def normalize_state(text: str) -> str | None:
    """A two-letter USPS code from a code or a full name in any case, else None."""
    code = text.replace(".", "").strip().upper()
    if code in US_STATES:
        return code
    return _STATE_NAMES.get(re.sub(r"[^a-z]+", " ", text.lower()).strip())


def normalize_zip(text: str) -> str | None:
    """`02134` or `02134-1234`, restoring the leading zeros Excel drops; None if not a ZIP."""
    text = text.strip()
    if text.endswith(".0"):  # a number written out by a tool that kept it a float
        text = text[:-2]
    if text.isascii() and text.isdigit():
        if 3 <= len(text) <= 5:
            return text.zfill(5)
        if len(text) in (8, 9):
            text = text.zfill(9)
            return f"{text[:5]}-{text[5:]}"
        return None
    match = _ZIP_RE.fullmatch(text)
    if match is None or match.group(2) is None:
        return None
    return f"{match.group(1).zfill(5)}-{match.group(2)}"
