"""Speeds and terms as people write them (quotes.options)."""

import pytest

from quotes.options import (
    MAX_OPTIONS,
    Option,
    OptionError,
    check_options,
    parse_option,
    parse_speed,
    parse_term,
)


@pytest.mark.parametrize(
    ("text", "mbps"),
    [
        ("1 Gbps", 1000),
        ("1G", 1000),
        ("1000", 1000),
        ("500M", 500),
        ("500 Mbps", 500),
        ("500mbps", 500),
        ("100 Mb/s", 100),
        ("1,000 Mbps", 1000),
        ("1 gig", 1000),
        ("10G", 10000),
        ("10 GbE", 10000),
        ("2 Gbps", 2000),
        (" 200 meg ", 200),
        ("1", 1000),
        ("5", 5000),
        ("1000.0", 1000),
        (1000, 1000),
        ("0.5 Gbps", 500),
    ],
)
def test_speed_is_read_as_people_write_it(text, mbps):
    assert parse_speed(text) == mbps


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("36", 36),
        ("36 mo", 36),
        ("36 months", 36),
        ("36-month", 36),
        ("24 mos", 24),
        ("60m", 60),
        ("3 yr", 36),
        ("3 years", 36),
        ("1 year", 12),
        ("5 yrs", 60),
        ("2y", 24),
        ("3", 36),
        ("36.0", 36),
        (12, 12),
    ],
)
def test_term_is_read_as_people_write_it(text, months):
    assert parse_term(text) == months


def test_unsold_speed_names_the_speeds_either_side():
    with pytest.raises(OptionError) as raised:
        parse_speed("750 Mbps")
    assert raised.value.message == "Speed '750 Mbps' is not one Momentum sells: 500 Mbps or 1 Gbps?"
    assert raised.value.reason == "Speed not sold"


def test_speed_above_the_fastest_names_the_fastest():
    with pytest.raises(OptionError, match=r"'40G' is not one Momentum sells: 10 Gbps\?"):
        parse_speed("40G")


def test_speed_below_the_slowest_names_the_slowest():
    with pytest.raises(OptionError, match=r"'50 Mbps' is not one Momentum sells: 100 Mbps\?"):
        parse_speed("50 Mbps")


def test_fractional_gbps_between_two_sold_speeds_is_refused():
    with pytest.raises(OptionError, match=r"1 Gbps or 2 Gbps\?"):
        parse_speed("1.5 Gbps")


@pytest.mark.parametrize("text", ["fast", "", "1 Tbps", "Gbps", "1 G 2", "12 miles"])
def test_unreadable_speed_says_how_to_write_it(text):
    with pytest.raises(OptionError) as raised:
        parse_speed(text)
    assert (
        raised.value.message == f"Speed '{text}' can't be read: write it like 1 Gbps or 500 Mbps."
    )
    assert raised.value.reason == "Speed unreadable"


def test_unsold_term_names_the_terms_either_side():
    with pytest.raises(OptionError) as raised:
        parse_term("48 months")
    assert raised.value.message == (
        "Term '48 months' is not one Momentum sells: 36 months or 60 months?"
    )
    assert raised.value.reason == "Term not sold"


def test_term_in_years_not_sold_is_refused():
    with pytest.raises(OptionError, match=r"'4 years' is not one Momentum sells: 36 months or 60"):
        parse_term("4 years")


@pytest.mark.parametrize("text", ["forever", "", "36 weeks", "three years"])
def test_unreadable_term_says_how_to_write_it(text):
    with pytest.raises(OptionError) as raised:
        parse_term(text)
    assert (
        raised.value.message == f"Term '{text}' can't be read: write it like 36 months or 3 years."
    )
    assert raised.value.reason == "Term unreadable"


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("1000x36", Option(1000, 36)),
        ("500x60", Option(500, 60)),
        ("1G x 3yr", Option(1000, 36)),
        ("100 Mbps \u00d7 12", Option(100, 12)),
    ],
)
def test_option_is_speed_x_term(text, option):
    assert parse_option(text) == option


def test_option_without_a_term_is_refused():
    with pytest.raises(OptionError, match="write it as speed x term, like 1000x36"):
        parse_option("1000")


def test_option_with_an_unsold_speed_says_which():
    with pytest.raises(OptionError, match="Speed '750' is not one Momentum sells"):
        parse_option("750x36")


def test_option_label_heads_the_results():
    assert Option(1000, 36).label == "1 Gbps · 36 mo"
    assert Option(500, 60).label == "500 Mbps · 60 mo"


def test_more_options_than_allowed_are_refused():
    options = [Option(s, 36) for s in (100, 200, 500, 1000, 2000)]
    assert len(options) > MAX_OPTIONS
    with pytest.raises(OptionError, match="at most 4"):
        check_options(options)


def test_an_option_asked_twice_is_refused():
    with pytest.raises(OptionError, match="1 Gbps · 36 mo is asked for twice"):
        check_options([Option(1000, 36), Option(500, 36), Option(1000, 36)])


def test_no_option_is_refused():
    with pytest.raises(OptionError, match="at least one"):
        check_options([])
