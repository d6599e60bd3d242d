"""States and areas by ISO 3166 alpha-3, with the names UN documents use.

Names come from ``data/countries.csv`` (UNTERM short names, copied from the shared
reference data); codes are checked with pycountry, which also knows the former States
that old materiel carries (ISO 3166-3: USSR ``SUN``, Yugoslavia ``YUG``…).
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pycountry

FORMER = {
    "SUN": "Union of Soviet Socialist Republics (former)",
    "YUG": "Yugoslavia (former)",
    "CSK": "Czechoslovakia (former)",
    "DDR": "German Democratic Republic (former)",
    "SCG": "Serbia and Montenegro (former)",
}


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    names = {}
    with open(Path(__file__).parent / "data" / "countries.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            names[row["alpha3"]] = row["un_short_en"] or row["iso_name_en"]
    for country in pycountry.countries:
        names.setdefault(country.alpha_3, country.name)
    names.update(FORMER)
    return names


def is_known(code: str | None) -> bool:
    return bool(code) and code in _names()


def name(code: str | None) -> str:
    if not code:
        return ""
    return _names().get(code, code)


def choices(blank: str = "—") -> list[tuple[str, str]]:
    current = sorted(((c, n) for c, n in _names().items() if c not in FORMER), key=lambda cn: cn[1])
    former = sorted(FORMER.items(), key=lambda cn: cn[1])
    return [("", blank)] + [(c, f"{n} ({c})") for c, n in current + former]
