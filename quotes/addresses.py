"""US addresses: USPS normalisation, one-line splitting, and ZIP against state.

Plain Python, no Django models: bulk uploads, the single-quote form and (later) price
reuse all call these. Normalisation is `usaddress-scourgify` (USPS Publication 28
abbreviations, line 2 split off); the ZIP table is the `zipcodes` package, which ships
its data, so nothing here needs the network: `zip_table` indexes it once per process.

`NormalisedAddress.key` is the stable identity of an address: two spellings of one
address ("300 State Street" and "300 State St.") have the same key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import zipcodes
from scourgify.exceptions import AddressNormalizationError
from scourgify.normalize import normalize_addr_str, normalize_city

from config.memory import collector_paused

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
_HOUSE_NUMBER_RE = re.compile(r"([0-9]{1,10})(\s.*)", re.ASCII | re.DOTALL)
_JUNK_RE = re.compile(r"[^\w\s#/&-]+")
# One-line addresses: "street, city, ST 12345" (the ZIP optional), split from the end.
_TAIL_RE = re.compile(
    r"^(?P<street>.+?)[,\s]+(?P<city>[^,]+?)[,\s]+(?P<state>[A-Za-z .]+?)"
    r"(?:[,\s]+(?P<zip>[0-9]{3,5}(?:\s*-\s*[0-9]{4})?))?\s*$"
)


class AddressError(ValueError):
    """The text is not an address we can use; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class NormalisedAddress:
    """An address in USPS form: upper case, standard abbreviations, line 2 apart."""

    line1: str
    line2: str
    city: str
    state: str
    zip_code: str

    @property
    def street(self) -> str:
        """Line 1 and line 2 together, as one street field is sent upstream."""
        return f"{self.line1} {self.line2}" if self.line2 else self.line1

    @property
    def key(self) -> str:
        """Stable identity: the same address however it was spelled (ZIP+4 ignored)."""
        return "|".join((self.line1, self.line2, self.city, self.state, self.zip_code[:5]))

    @property
    def one_line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zip_code}".strip()


# --- States and ZIP codes -----------------------------------------------------------------


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


@dataclass(frozen=True)
class ZipTable:
    """The `zipcodes` package's data, indexed once: a lookup is a dict read, not a scan."""

    # ZIP -> its state (the package's first entry for it).
    states: dict[str, str]
    # First three digits -> the states of every ZIP starting with them.
    prefix_states: dict[str, frozenset[str]]
    # (state, city as `_city_key` spells it) -> the one active standard ZIP it names, or
    # "" when it names several.
    city_zip: dict[tuple[str, str], str]


def _zip_entries() -> Iterator[dict]:
    """The package's entries, a hundred ZIP prefixes at a time ("00" to "99"): the whole
    list at once (`list_all`) is 140 MB of dicts that the package then keeps for the
    life of the process; a prefix's few hundred are gone once read (issue 24)."""
    for prefix in range(100):
        yield from zipcodes.similar_to(f"{prefix:02d}")


@lru_cache(maxsize=1)
@collector_paused()
def zip_table() -> ZipTable:
    """The one ZIP table of the product, built once per process on first use."""
    states: dict[str, str] = {}
    prefixes: dict[str, set[str]] = {}
    cities: dict[tuple[str, str], str] = {}
    for entry in _zip_entries():
        zip_code, state = entry["zip_code"], entry["state"]
        states.setdefault(zip_code, state)
        prefixes.setdefault(zip_code[:3], set()).add(state)
        if entry["active"] and entry["zip_code_type"] == "STANDARD":
            for city in {_city_key(c) for c in (entry["city"], *entry["acceptable_cities"])}:
                known = cities.setdefault((state, city), zip_code)
                if known != zip_code:
                    cities[state, city] = ""
    return ZipTable(
        states=states,
        prefix_states={prefix: frozenset(found) for prefix, found in prefixes.items()},
        city_zip=cities,
    )


def zip_state(zip_code: str) -> str | None:
    """The state a ZIP code is in, or None if the table doesn't know it."""
    return zip_table().states.get(zip_code[:5]) if len(zip_code) >= 5 else None


def _prefix_states(prefix: str) -> frozenset[str]:
    # A ZIP's first three digits name its sectional centre, which lies in one state
    # (a few span two): a new ZIP the table doesn't list yet still has a known prefix.
    return zip_table().prefix_states.get(prefix, frozenset())


def check_zip_state(zip_code: str, state: str) -> str | None:
    """Why this ZIP and state disagree ("ZIP 08411 is in NJ, not UT"), or None if they agree."""
    zip5 = zip_code[:5]
    known = zip_state(zip5)
    if known == state:
        return None
    if known is not None:
        return f"ZIP {zip5} is in {known}, not {state}"
    states = _prefix_states(zip5[:3])
    if not states:
        return f"ZIP {zip5} is not a US ZIP code"
    if state in states:
        return None
    return f"ZIP {zip5} is in {'/'.join(sorted(states))}, not {state}"


def _city_key(city: str) -> str:
    return " ".join(re.sub(r"[^A-Z0-9 ]+", " ", city.upper()).split())


def zip_for_city(city: str, state: str) -> str | None:
    """The ZIP of a city, only when the table gives it exactly one."""
    return zip_table().city_zip.get((state, _city_key(city))) or None


# --- Normalising and splitting ------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _normalise_street(street: str) -> tuple[str, str]:
    try:
        parsed = normalize_addr_str(street)
    except (AddressNormalizationError, ValueError, TypeError):
        parsed = None
    if parsed is None or not parsed.get("address_line_1"):
        # Not a street usaddress recognises (a building name, a rural route): keep it,
        # tidied, rather than refuse an address a person typed on purpose.
        return " ".join(_JUNK_RE.sub(" ", street.upper()).split()), ""
    return parsed["address_line_1"], parsed.get("address_line_2") or ""


def normalise_street(street: str, unit: str = "") -> tuple[str, str]:
    """Line 1 and line 2 in USPS form; "300 State Street" and "300 STATE ST." agree."""
    text = " ".join(f"{street} {unit}".split()) if unit else " ".join(street.split())
    match = _HOUSE_NUMBER_RE.fullmatch(text)
    if match is None:
        return _normalise_street(text)
    # Streets repeat with other house numbers; the number never changes how the rest
    # is tagged, so normalise "<number of the same length> rest" once and put it back.
    number, rest = match.groups()
    placeholder = "1" * len(number)
    line1, line2 = _normalise_street(placeholder + rest)
    if not line1.startswith(placeholder + " "):
        return _normalise_street(text)
    return number + line1[len(placeholder) :], line2


@lru_cache(maxsize=4096)
def normalise_city(city: str) -> str:
    """A city in USPS form: upper case, abbreviations as USPS writes them."""
    return normalize_city(" ".join(_JUNK_RE.sub(" ", city.upper()).split()))


def normalise_address(
    *, street: str, unit: str = "", city: str, state: str, zip_code: str
) -> NormalisedAddress:
    """Normalise an address already in fields (state a USPS code, ZIP valid)."""
    line1, line2 = normalise_street(street, unit)
    return NormalisedAddress(line1, line2, normalise_city(city), state, zip_code)


@dataclass(frozen=True, slots=True)
class SplitAddress:
    street: str
    city: str
    state: str
    zip_code: str


@lru_cache(maxsize=16_384)
def split_one_line(text: str) -> SplitAddress:
    """Split "420 El Cerrito Plaza, El Cerrito, CA 94530" into fields with usaddress.

    Raise AddressError when it can't be split with confidence (no street, city or state).
    """
    cleaned = " ".join(text.split())
    try:
        parsed = normalize_addr_str(cleaned)
    except (AddressNormalizationError, ValueError, TypeError) as exc:
        raise AddressError("Can't split this address into street, city and state") from exc
    street = parsed.get("address_line_1") or ""
    line2 = parsed.get("address_line_2") or ""
    city = parsed.get("city") or ""
    state_text = parsed.get("state") or ""
    zip_text = parsed.get("postal_code") or ""
    if not city or not state_text:
        # usaddress needs commas to see the city; try the common "street, city, ST zip".
        match = _TAIL_RE.match(cleaned)
        if match and normalize_state(match["state"]) and "," in cleaned:
            street_part, line2 = normalise_street(match["street"])
            street, city = street_part, match["city"]
            state_text, zip_text = match["state"], match["zip"] or ""
    missing = [
        name
        for name, value in (("street", street), ("city", city), ("state", state_text))
        if not value
    ]
    if missing:
        raise AddressError(f"Can't find the {' and '.join(missing)} in this address")
    state = normalize_state(state_text)
    if state is None:
        raise AddressError(f'"{state_text[:40]}" is not a US state')
    street = f"{street} {line2}" if line2 else street
    return SplitAddress(street, city.title() if city.isupper() else city, state, zip_text)
