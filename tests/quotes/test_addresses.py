import pytest
import zipcodes

from quotes import addresses
from quotes.addresses import (
    AddressError,
    check_zip_state,
    normalise_address,
    split_one_line,
    zip_for_city,
)


def key(street: str, unit: str = "", city: str = "Boston", zip_code: str = "02109") -> str:
    return normalise_address(street=street, unit=unit, city=city, state="MA", zip_code=zip_code).key


@pytest.mark.parametrize(
    "spelling",
    ["300 State St", "300 STATE ST.", "300  state   street", "300 State Street"],
)
def test_usps_spellings_of_one_address_have_one_key(spelling):
    assert key(spelling) == "300 STATE ST||BOSTON|MA|02109"


def test_the_unit_is_line_2_however_it_was_given():
    assert key("300 State St", "Suite 5") == key("300 State Street Ste 5")
    assert key("300 State St", "Suite 5") != key("300 State St")


def test_zip_plus_4_does_not_change_the_key():
    assert key("300 State St", zip_code="02109-1234") == key("300 State St")


def test_other_house_numbers_are_other_addresses():
    assert key("301 State St") == "301 STATE ST||BOSTON|MA|02109"
    assert key("12345 N Main Street") == "12345 N MAIN ST||BOSTON|MA|02109"


@pytest.mark.parametrize(
    ("zip_code", "state", "problem"),
    [
        ("02134", "MA", None),
        ("08411", "UT", "ZIP 08411 is in NJ, not UT"),
        ("84111", "UT", None),
        ("00000", "MA", "ZIP 00000 is not a US ZIP code"),
    ],
)
def test_zip_and_state_must_agree(zip_code, state, problem):
    assert check_zip_state(zip_code, state) == problem


def test_a_missing_zip_is_filled_only_when_the_city_has_one():
    assert zip_for_city("El Cerrito", "CA") == "94530"
    assert zip_for_city("Boston", "MA") is None
    assert zip_for_city("Nowhere Town", "MA") is None


def test_the_zip_table_holds_every_zip_of_the_package():
    table = addresses.zip_table()
    everything = zipcodes.list_all()
    assert table.states.keys() == {entry["zip_code"] for entry in everything}
    assert table.states["96910"] == "GU"  # beyond the states too
    assert table.states["00501"] == "NY"  # the lowest


def test_zip_lookups_read_the_table_built_once_not_the_package(monkeypatch):
    addresses.zip_table()  # built once per process, on first use

    def scan(*_args, **_kwargs):
        raise AssertionError("a lookup scanned the zipcodes package")

    for name in ("matching", "similar_to", "filter_by", "list_all"):
        monkeypatch.setattr(zipcodes, name, scan)
    assert check_zip_state("08411", "UT") == "ZIP 08411 is in NJ, not UT"
    assert check_zip_state("02199", "MA") is None
    assert zip_for_city("El Cerrito", "CA") == "94530"


def test_one_line_addresses_are_split():
    split = split_one_line("1600 Pennsylvania Ave NW, Washington, DC 20500")
    assert (split.street, split.city, split.state, split.zip_code) == (
        "1600 PENNSYLVANIA AVE NW",
        "Washington",
        "DC",
        "20500",
    )


@pytest.mark.parametrize("text", ["just some words", "Boston, MA", "12 Main St"])
def test_addresses_that_cant_be_split_say_so(text):
    with pytest.raises(AddressError):
        split_one_line(text)
