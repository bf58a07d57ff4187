"""Build data/geo/admdong_demo_2021.geojson: the demo's dong boundaries, simplified.

One-off (kept to show how the shipped file was made and to remake it): reads the 2021-04 행정동
boundaries (vuski/admdongkor ver20210401, from SGIS; see data/geo/README.md) for Seoul, Goyang and
Daejeon Daedeok-gu, keeps the dongs of data/regions.csv, simplifies each ring with
Ramer–Douglas–Peucker at TOLERANCE_M and rounds to 5 decimals (about 1 m).

    python scripts/simplify_boundaries.py ../shared/realdata/geo
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.mapping.boundaries import simplify_feature  # noqa: E402

SOURCES = (
    "admdong_seoul_2021.geojson",
    "admdong_goyang_2021.geojson",
    "admdong_daejeon_daedeok_2021.geojson",
)
TOLERANCE_M = 25.0
OUT = ROOT / "data" / "geo" / "admdong_demo_2021.geojson"


def main(source_dir: str) -> None:
    with (ROOT / "data" / "regions.csv").open(encoding="utf-8") as fh:
        dongs = {r["code"] for r in csv.DictReader(fh) if r["level"] == "dong"}
    features, seen = [], set()
    for name in SOURCES:
        data = json.loads((Path(source_dir) / name).read_text(encoding="utf-8"))
        for f in data["features"]:
            code = str(f["properties"]["adm_cd2"])
            if code in dongs and code not in seen:
                seen.add(code)
                features.append(simplify_feature(f, TOLERANCE_M))
    features.sort(key=lambda f: f["properties"]["adm_cd2"])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": features},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(features)} of {len(dongs)} dongs -> {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared" / "realdata" / "geo"))
