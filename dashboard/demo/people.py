"""Fictitious people: names, phone numbers, addresses and homes near a dong centroid.

Rules (see docs/demo-city.md): names are random syllable combinations; phone numbers are
``010-000X-NNNN``: Korean mobile middle groups start at 2000, so a middle group beginning with
``000`` is never issued; addresses use the fictitious street ``안부로`` and end in ``(가상)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SURNAMES = list("김이박최정강조윤장임한오서신권황안송류홍")
SURNAME_P = np.array(
    [21, 15, 8.5, 4.7, 4.3, 2.3, 2.1, 2, 2, 1.6, 1.5, 1.5, 1.5, 1.4, 1.3, 1.3, 1.3, 1.2, 1.1, 1.1]
)
GIVEN_F = list("순옥숙자희영정미경화춘말분례금선애정향")
GIVEN_M = list("철수영호석만기용성식남길동재상진봉근태")
GIVEN_ANY = list("은현지민서연하윤수혜인보경정")
PHONE_LIMIT = 100_000


@dataclass
class PhoneBook:
    """Hands out unique numbers in the never-issued 010-000X-NNNN range."""

    issued: int = 0

    def take(self, n: int) -> list[str]:
        if self.issued + n > PHONE_LIMIT:
            raise ValueError("fictitious phone range exhausted")
        idx = np.arange(self.issued, self.issued + n)
        self.issued += n
        return [f"010-{i // 10_000:04d}-{i % 10_000:04d}" for i in idx.tolist()]


def names(rng: np.random.Generator, sex: np.ndarray, older: bool = True) -> list[str]:
    """Two-syllable given names; older people get the older-sounding syllable pools."""
    n = len(sex)
    sur = rng.choice(len(SURNAMES), n, p=SURNAME_P / SURNAME_P.sum())
    f_pool, m_pool = (GIVEN_F, GIVEN_M) if older else (GIVEN_ANY, GIVEN_ANY)
    a = rng.integers(0, len(GIVEN_ANY), n)
    bf = rng.integers(0, len(f_pool), n)
    bm = rng.integers(0, len(m_pool), n)
    out = []
    for i, s in enumerate(sex.tolist()):
        last = f_pool[bf[i]] if s == "F" else m_pool[bm[i]]
        out.append(f"{SURNAMES[sur[i]]}{GIVEN_ANY[a[i]]}{last}")
    return out


def addresses(rng: np.random.Generator, region_names: list[str]) -> list[str]:
    """Fictitious street addresses inside the real dong name, clearly marked."""
    n = len(region_names)
    bldg = rng.integers(1, 300, n)
    sub = rng.integers(1, 30, n)
    unit = rng.integers(101, 1204, n)
    return [f"{region_names[i]} 안부로 {bldg[i]}-{sub[i]}, {unit[i]}호 (가상)" for i in range(n)]


def homes_near(
    rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, spread_m: float = 450.0
) -> tuple[np.ndarray, np.ndarray]:
    """Random homes around centroids (rounded to ~10 m, which is plenty for a demo)."""
    dlat = rng.normal(0, spread_m / 111_000, len(lat))
    dlon = rng.normal(0, spread_m / (111_000 * np.cos(np.radians(lat))), len(lat))
    return np.round(lat + dlat, 5), np.round(lon + dlon, 5)


def sexes(rng: np.random.Generator, n: int, female_share: float) -> np.ndarray:
    return np.where(rng.random(n) < female_share, "F", "M")
