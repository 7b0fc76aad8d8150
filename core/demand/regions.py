"""Which country (and so which public holidays and time zone) each region is in.

A guess from the region's name: cloud region codes of AWS, Azure and Google Cloud (``eu-west-1``,
``westeurope``, ``France Central``, ``germanywestcentral``, ``us-east-1``, ``japaneast``,
``europe-west3``), then country names, common aliases and data-centre cities found in the name.
Every guess says how it was made; a region whose name names no country gets no holidays, said
plainly. The user overrides any guess with a mapping ``region -> country code``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from core.errors import InputError
from core.forecast.calendar import holiday_flags

# ISO code -> (English name, the zone of its largest cloud market).
COUNTRIES: dict[str, tuple[str, str]] = {
    "US": ("United States", "America/New_York"), "CA": ("Canada", "America/Toronto"),
    "MX": ("Mexico", "America/Mexico_City"), "BR": ("Brazil", "America/Sao_Paulo"),
    "CL": ("Chile", "America/Santiago"), "AR": ("Argentina", "America/Argentina/Buenos_Aires"),
    "CO": ("Colombia", "America/Bogota"), "GB": ("United Kingdom", "Europe/London"),
    "IE": ("Ireland", "Europe/Dublin"), "FR": ("France", "Europe/Paris"), "DE": ("Germany", "Europe/Berlin"),
    "NL": ("Netherlands", "Europe/Amsterdam"), "BE": ("Belgium", "Europe/Brussels"),
    "CH": ("Switzerland", "Europe/Zurich"), "AT": ("Austria", "Europe/Vienna"), "IT": ("Italy", "Europe/Rome"),
    "ES": ("Spain", "Europe/Madrid"), "PT": ("Portugal", "Europe/Lisbon"), "SE": ("Sweden", "Europe/Stockholm"),
    "NO": ("Norway", "Europe/Oslo"), "FI": ("Finland", "Europe/Helsinki"), "DK": ("Denmark", "Europe/Copenhagen"),
    "PL": ("Poland", "Europe/Warsaw"), "CZ": ("Czechia", "Europe/Prague"), "IL": ("Israel", "Asia/Jerusalem"),
    "AE": ("United Arab Emirates", "Asia/Dubai"), "QA": ("Qatar", "Asia/Qatar"),
    "SA": ("Saudi Arabia", "Asia/Riyadh"), "BH": ("Bahrain", "Asia/Bahrain"),
    "ZA": ("South Africa", "Africa/Johannesburg"), "IN": ("India", "Asia/Kolkata"),
    "SG": ("Singapore", "Asia/Singapore"), "JP": ("Japan", "Asia/Tokyo"), "KR": ("South Korea", "Asia/Seoul"),
    "CN": ("China", "Asia/Shanghai"), "HK": ("Hong Kong", "Asia/Hong_Kong"), "TW": ("Taiwan", "Asia/Taipei"),
    "ID": ("Indonesia", "Asia/Jakarta"), "MY": ("Malaysia", "Asia/Kuala_Lumpur"),
    "TH": ("Thailand", "Asia/Bangkok"), "AU": ("Australia", "Australia/Sydney"),
    "NZ": ("New Zealand", "Pacific/Auckland"),
}

# Cloud region codes, lower-case as the providers write them -> (country, zone). AWS and Google write
# hyphens (and differ: AWS me-central-1 is the UAE, Google me-central1 is Qatar), so they are matched
# as written; Azure's codes are its display names without spaces, matched letters-and-digits only.
_AWS_GCP: dict[str, tuple[str, str]] = {
    # AWS
    "us-east-1": ("US", "America/New_York"), "us-east-2": ("US", "America/New_York"),
    "us-west-1": ("US", "America/Los_Angeles"), "us-west-2": ("US", "America/Los_Angeles"),
    "ca-central-1": ("CA", "America/Toronto"), "ca-west-1": ("CA", "America/Edmonton"),
    "mx-central-1": ("MX", "America/Mexico_City"), "sa-east-1": ("BR", "America/Sao_Paulo"),
    "eu-west-1": ("IE", "Europe/Dublin"), "eu-west-2": ("GB", "Europe/London"), "eu-west-3": ("FR", "Europe/Paris"),
    "eu-central-1": ("DE", "Europe/Berlin"), "eu-central-2": ("CH", "Europe/Zurich"),
    "eu-north-1": ("SE", "Europe/Stockholm"), "eu-south-1": ("IT", "Europe/Rome"),
    "eu-south-2": ("ES", "Europe/Madrid"), "il-central-1": ("IL", "Asia/Jerusalem"),
    "me-south-1": ("BH", "Asia/Bahrain"), "me-central-1": ("AE", "Asia/Dubai"),
    "af-south-1": ("ZA", "Africa/Johannesburg"), "ap-east-1": ("HK", "Asia/Hong_Kong"),
    "ap-south-1": ("IN", "Asia/Kolkata"), "ap-south-2": ("IN", "Asia/Kolkata"),
    "ap-northeast-1": ("JP", "Asia/Tokyo"), "ap-northeast-2": ("KR", "Asia/Seoul"),
    "ap-northeast-3": ("JP", "Asia/Tokyo"), "ap-southeast-1": ("SG", "Asia/Singapore"),
    "ap-southeast-2": ("AU", "Australia/Sydney"), "ap-southeast-3": ("ID", "Asia/Jakarta"),
    "ap-southeast-4": ("AU", "Australia/Melbourne"), "ap-southeast-5": ("MY", "Asia/Kuala_Lumpur"),
    # Google Cloud
    "us-central1": ("US", "America/Chicago"), "us-east1": ("US", "America/New_York"),
    "us-east4": ("US", "America/New_York"), "us-east5": ("US", "America/New_York"),
    "us-south1": ("US", "America/Chicago"), "us-west1": ("US", "America/Los_Angeles"),
    "us-west2": ("US", "America/Los_Angeles"), "us-west3": ("US", "America/Denver"),
    "us-west4": ("US", "America/Los_Angeles"), "northamerica-northeast1": ("CA", "America/Toronto"),
    "northamerica-northeast2": ("CA", "America/Toronto"), "southamerica-east1": ("BR", "America/Sao_Paulo"),
    "southamerica-west1": ("CL", "America/Santiago"), "europe-west1": ("BE", "Europe/Brussels"),
    "europe-west2": ("GB", "Europe/London"), "europe-west3": ("DE", "Europe/Berlin"),
    "europe-west4": ("NL", "Europe/Amsterdam"), "europe-west6": ("CH", "Europe/Zurich"),
    "europe-west8": ("IT", "Europe/Rome"), "europe-west9": ("FR", "Europe/Paris"),
    "europe-west10": ("DE", "Europe/Berlin"), "europe-west12": ("IT", "Europe/Rome"),
    "europe-north1": ("FI", "Europe/Helsinki"), "europe-central2": ("PL", "Europe/Warsaw"),
    "europe-southwest1": ("ES", "Europe/Madrid"), "me-west1": ("IL", "Asia/Jerusalem"),
    "me-central1": ("QA", "Asia/Qatar"), "me-central2": ("SA", "Asia/Riyadh"),
    "africa-south1": ("ZA", "Africa/Johannesburg"), "asia-east1": ("TW", "Asia/Taipei"),
    "asia-east2": ("HK", "Asia/Hong_Kong"), "asia-northeast1": ("JP", "Asia/Tokyo"),
    "asia-northeast2": ("JP", "Asia/Tokyo"), "asia-northeast3": ("KR", "Asia/Seoul"),
    "asia-south1": ("IN", "Asia/Kolkata"), "asia-south2": ("IN", "Asia/Kolkata"),
    "asia-southeast1": ("SG", "Asia/Singapore"), "asia-southeast2": ("ID", "Asia/Jakarta"),
    "australia-southeast1": ("AU", "Australia/Sydney"), "australia-southeast2": ("AU", "Australia/Melbourne"),
}
# Azure region codes that name no country ("East US" is found by its word "US" as well).
_AZURE: dict[str, tuple[str, str]] = {
    "eastus": ("US", "America/New_York"), "eastus2": ("US", "America/New_York"),
    "centralus": ("US", "America/Chicago"), "northcentralus": ("US", "America/Chicago"),
    "southcentralus": ("US", "America/Chicago"), "westcentralus": ("US", "America/Denver"),
    "westus": ("US", "America/Los_Angeles"), "westus2": ("US", "America/Los_Angeles"),
    "westus3": ("US", "America/Phoenix"), "northeurope": ("IE", "Europe/Dublin"),
    "westeurope": ("NL", "Europe/Amsterdam"), "southeastasia": ("SG", "Asia/Singapore"),
    "eastasia": ("HK", "Asia/Hong_Kong"), "uksouth": ("GB", "Europe/London"), "ukwest": ("GB", "Europe/London"),
    "uaenorth": ("AE", "Asia/Dubai"), "uaecentral": ("AE", "Asia/Dubai"),
    "centralindia": ("IN", "Asia/Kolkata"), "southindia": ("IN", "Asia/Kolkata"),
    "westindia": ("IN", "Asia/Kolkata"), "japanwest": ("JP", "Asia/Tokyo"),
    "australiasoutheast": ("AU", "Australia/Melbourne"), "canadaeast": ("CA", "America/Toronto"),
}
# Words in a region's name (letters only, lower case) -> country. Five letters or more match anywhere in
# the name ("germanywestcentral"); shorter ones only as a whole word ("East US", "uk-south").
_WORDS: dict[str, str] = {
    **{name.lower().replace(" ", ""): code for code, (name, _zone) in COUNTRIES.items()},
    "usa": "US", "us": "US", "unitedstatesofamerica": "US", "virginia": "US", "ohio": "US",
    "oregon": "US", "california": "US", "iowa": "US", "texas": "US", "dallas": "US", "chicago": "US",
    "uk": "GB", "britain": "GB", "greatbritain": "GB", "england": "GB", "london": "GB", "wales": "GB",
    "uae": "AE", "emirates": "AE", "dubai": "AE", "korea": "KR", "seoul": "KR", "holland": "NL",
    "amsterdam": "NL", "deutschland": "DE", "frankfurt": "DE", "berlin": "DE", "paris": "FR", "marseille": "FR",
    "dublin": "IE", "milan": "IT", "turin": "IT", "madrid": "ES", "zurich": "CH", "geneva": "CH",
    "stockholm": "SE", "oslo": "NO", "helsinki": "FI", "warsaw": "PL", "vienna": "AT", "brussels": "BE",
    "lisbon": "PT", "telaviv": "IL", "doha": "QA", "riyadh": "SA", "johannesburg": "ZA", "capetown": "ZA",
    "mumbai": "IN", "hyderabad": "IN", "delhi": "IN", "chennai": "IN", "tokyo": "JP", "osaka": "JP",
    "sydney": "AU", "melbourne": "AU", "jakarta": "ID", "hongkong": "HK", "taipei": "TW",
    "saopaulo": "BR", "montreal": "CA", "toronto": "CA", "santiago": "CL", "queretaro": "MX",
}
_SUBSTRING_MIN = 5
NO_COUNTRY = ("none", "no", "-", "")


@dataclass(frozen=True)
class CountryGuess:
    """A region's country (ISO code, None: no holidays), its time zone, and how that was decided."""

    region: str
    country: str | None
    timezone: str | None
    source: str  # 'name', 'column', 'you', 'generator' or 'none'
    note: str


def _name(code: str) -> str:
    return COUNTRIES.get(code, (code, ""))[0]


def guess_country(region: str) -> CountryGuess:
    """The country a region's name points to, with a note saying how (or that it found none)."""
    raw = str(region).strip()
    # Accents do not matter: "São Paulo" is "sao paulo".
    lowered = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    compact = re.sub(r"[^a-z0-9]", "", lowered)
    said = f"from the name '{raw}'"
    if lowered in _AWS_GCP or compact in _AZURE:
        code, zone = _AWS_GCP.get(lowered) or _AZURE[compact]
        return CountryGuess(raw, code, zone, "name", f"{_name(code)}: {said} (a cloud region code)")
    if len(raw) == 2 and raw.upper() in COUNTRIES:
        code = raw.upper()
        return CountryGuess(raw, code, COUNTRIES[code][1], "name", f"{_name(code)}: {said} (a country code)")
    words = re.findall(r"[a-z]+", lowered)
    letters = "".join(words)
    found: list[tuple[int, str, str]] = []
    for word, code in _WORDS.items():
        if word in words or (len(word) >= _SUBSTRING_MIN and word in letters):
            found.append((len(word), word, code))
    if found:
        _length, word, code = max(found)
        zone = COUNTRIES[code][1]
        # A name naming two countries is rare ("us-to-germany"); the longest word wins and the note says so.
        others = sorted({c for _n, _w, c in found} - {code})
        also = f"; it also mentions {', '.join(_name(c) for c in others)}" if others else ""
        return CountryGuess(raw, code, zone, "name", f"{_name(code)}: {said} (the word '{word}'){also}")
    return CountryGuess(raw, None, None, "none",
                        f"no country found in the name '{raw}': no public holidays for this region "
                        f"(set its country to add them)")


def country_code(text: str) -> str | None:
    """An ISO code from what a user typed: 'FR', 'fr', 'France' or 'none' (None: no holidays).
    Raises InputError for anything else, and for a code with no public-holiday calendar."""
    value = str(text).strip()
    if value.lower() in NO_COUNTRY:
        return None
    code = value.upper()
    if len(code) != 2:
        key = re.sub(r"[^a-z]", "", value.lower())
        if key not in _WORDS:
            raise InputError(f"'{value}' is not a country: use a two-letter code such as FR, DE or US")
        code = _WORDS[key]
    # The core calendar is the one place holidays are looked up; it refuses codes it has no calendar for.
    holiday_flags(pd.DatetimeIndex([pd.Timestamp("2024-01-01")]), code)
    return code


def resolve_regions(regions: Iterable[str], *, overrides: Mapping[str, str] | None = None,
                    from_data: Mapping[str, CountryGuess] | None = None) -> pd.DataFrame:
    """One row per region: ``region, country, timezone, source, note``.

    Precedence: the user's ``overrides`` (region -> code, name or 'none'), then what the data said
    (a country column, or the generator), then the guess from the name.
    """
    overrides = dict(overrides or {})
    from_data = dict(from_data or {})
    names = list(dict.fromkeys(str(r) for r in regions))
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise InputError(f"no region named {', '.join(repr(u) for u in unknown)} in the data "
                         f"(regions: {', '.join(names)})")
    rows = []
    for region in names:
        if region in overrides:
            try:
                code = country_code(overrides[region])
            except InputError as exc:
                raise InputError(f"region '{region}': {exc.message}") from None
            before = from_data.get(region) or guess_country(region)
            zone = (before.timezone if before.country == code and before.timezone
                    else COUNTRIES[code][1] if code in COUNTRIES else None)
            note = (f"{_name(code)}: set by you" if code else "no public holidays: set by you")
            rows.append(CountryGuess(region, code, zone, "you", note))
        else:
            rows.append(from_data.get(region) or guess_country(region))
    # Object columns: a region without a country keeps None (pandas would turn it into NaN in a text column).
    return pd.DataFrame([r.__dict__ for r in rows], columns=["region", "country", "timezone", "source", "note"],
                        dtype=object)
