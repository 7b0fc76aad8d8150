"""A region's country from its name (cloud region codes, country names, cities), said plainly when none."""

from __future__ import annotations

import pytest

from core.demand import country_code, guess_country, resolve_regions
from core.errors import InputError


@pytest.mark.parametrize(
    ("name", "country", "zone"),
    [
        ("eu-west-1", "IE", "Europe/Dublin"),
        ("eu-central-1", "DE", "Europe/Berlin"),
        ("westeurope", "NL", "Europe/Amsterdam"),
        ("West Europe", "NL", "Europe/Amsterdam"),
        ("France Central", "FR", "Europe/Paris"),
        ("germanywestcentral", "DE", "Europe/Berlin"),
        ("us-east-1", "US", "America/New_York"),
        ("us-west-2", "US", "America/Los_Angeles"),
        ("East US 2", "US", "America/New_York"),
        ("japaneast", "JP", "Asia/Tokyo"),
        ("brazilsouth", "BR", "America/Sao_Paulo"),
        ("europe-west3", "DE", "Europe/Berlin"),
        ("me-central-1", "AE", "Asia/Dubai"),  # AWS: the UAE
        ("me-central1", "QA", "Asia/Qatar"),  # Google: Qatar
        ("South Africa North", "ZA", "Africa/Johannesburg"),
        ("uk-south", "GB", "Europe/London"),
        ("Frankfurt DC", "DE", "Europe/Berlin"),
        ("São Paulo", "BR", "America/Sao_Paulo"),
        ("Germany", "DE", "Europe/Berlin"),
        ("DE", "DE", "Europe/Berlin"),
    ],
)
def test_guess_from_the_name(name: str, country: str, zone: str) -> None:
    guess = guess_country(name)
    assert (guess.country, guess.timezone, guess.source) == (country, zone, "name")
    assert f"from the name '{name}'" in guess.note


@pytest.mark.parametrize("name", ["AEP", "DAYTON", "region-7", "Mars Base", "South America East"])
def test_no_guess_says_so_plainly(name: str) -> None:
    guess = guess_country(name)
    assert guess.country is None and guess.timezone is None and guess.source == "none"
    assert guess.note.startswith(f"no country found in the name '{name}'") and "no public holidays" in guess.note


def test_country_codes_from_what_a_user_types() -> None:
    assert country_code("fr") == "FR" and country_code("France") == "FR" and country_code("United Kingdom") == "GB"
    assert country_code("none") is None and country_code("") is None
    with pytest.raises(InputError, match="not a country"):
        country_code("Atlantis")
    with pytest.raises(InputError, match="no public-holiday calendar"):
        country_code("XX")


def test_overrides_win_and_keep_a_more_precise_zone() -> None:
    table = resolve_regions(["us-west-2", "AEP", "eu-west-1"], overrides={"AEP": "US", "eu-west-1": "none",
                                                                          "us-west-2": "US"}).set_index("region")
    assert table.loc["AEP", "country"] == "US" and table.loc["AEP", "timezone"] == "America/New_York"
    assert table.loc["us-west-2", "timezone"] == "America/Los_Angeles"  # the name's zone, same country
    assert table.loc["eu-west-1", "country"] is None and "set by you" in table.loc["eu-west-1", "note"]
    assert set(table["source"]) == {"you"}
