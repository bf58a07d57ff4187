"""The fusion study's variants in scripts/levels_harness.py (docs/detection.md, "Fusing the
routine and level evidence"): what each combination raises on hand-made timelines."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "levels_harness.py"


@pytest.fixture(scope="module")
def harness():
    spec = importlib.util.spec_from_file_location("levels_harness_under_test", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _timeline(h, *, expected, s, share=0.99, young=False, quiet_bg=30.0, quiet_fixed=3.0):
    """One moment per value: a routine that is scored (share, 3 h of score) and a CUSUM."""
    expected = np.asarray(expected, dtype=float)
    n = len(expected)

    def full(x, dtype=float):
        return np.full(n, x, dtype=dtype)

    return h.Timeline(
        at=np.arange(n) * 600.0,
        shipped=full(0, np.int8),
        ladder=full(0, np.int8),
        level_s=np.asarray(s, dtype=float),
        quiet_bg_h=full(quiet_bg),
        quiet_fixed_h=full(quiet_fixed),
        score_h=full(3.0),
        share=full(share),
        expected={0.8: expected + 2.0, 0.9: expected + 1.0, 0.95: expected},
        young=full(young, bool),
        no_load=full(False, bool),
    )


def _ranks(h, tl, **kw):
    v = h.Variant("product", None, (0.95, 2.0, 2.5), 24.0, **kw)
    return h.study_ranks(tl, [v])[v]


def test_sum_raises_two_halves_the_graver_does_not(harness):
    # 1.5 of 2.5 usual half-hours missed (0.6) and S at 12 of 24 (0.5): neither alone.
    tl = _timeline(harness, expected=[1.5, 1.0], s=[12.0, 12.0])
    assert list(_ranks(harness, tl)) == [0, 0]
    assert list(_ranks(harness, tl, fuse="sum")) == [1, 0]  # 1.1 ≥ 1; 0.4 + 0.5 < 1
    assert list(_ranks(harness, tl, fuse="l2")) == [0, 0]  # hypot(0.6, 0.5) < 1


def test_every_fusion_is_at_least_the_graver_at_the_same_thresholds(harness):
    rng = np.random.default_rng(1)
    tl = _timeline(harness, expected=rng.uniform(0, 15, 500), s=rng.uniform(0, 120, 500))
    graver = _ranks(harness, tl)
    for fuse in ("sum", "l2"):
        assert np.all(_ranks(harness, tl, fuse=fuse) >= graver)
    assert np.all(_ranks(harness, tl, fuse="sum") >= _ranks(harness, tl, fuse="l2"))


def test_relax_scores_the_routine_at_the_lower_share_only_when_the_cusum_is_high(harness):
    # share 0.85: under 0.95, over 0.8. The 0.8 score has missed 2 more half-hours.
    tl = _timeline(harness, expected=[1.0, 1.0], s=[12.0, 5.0], share=0.85)
    assert list(_ranks(harness, tl)) == [0, 0]
    assert list(_ranks(harness, tl, relax=(0.8, 0.5))) == [1, 0]  # 3.0 ≥ 2.5 where S ≥ 12


def test_confirm_keeps_the_routine_only_where_the_cusum_agrees(harness):
    tl = _timeline(harness, expected=[3.0, 3.0], s=[0.5, 4.0])
    assert list(_ranks(harness, tl)) == [1, 1]
    assert list(_ranks(harness, tl, confirm=3.0)) == [0, 1]


def test_product_floor_young_plug_keeps_the_background_ladder_and_no_level_test(harness):
    tl = _timeline(harness, expected=[0.0], s=[100.0], young=True, quiet_bg=30.0)
    tl.ladder[:] = 1  # the ladder on the background spell: 30 h ≥ 24 h
    assert list(_ranks(harness, tl, fuse="sum")) == [1]  # the floor, not the level's 심각
    tl = _timeline(harness, expected=[0.0], s=[100.0], young=False, quiet_bg=30.0)
    assert list(_ranks(harness, tl, fuse="sum")) == [3]  # 100 / 96 ≥ 1: 심각 by the level
    # Neither young nor at 0 W: the fixed spell's ladder and the net 24 h later.
    tl = _timeline(harness, expected=[0.0], s=[0.0], quiet_bg=49.0, quiet_fixed=3.0)
    assert list(_ranks(harness, tl)) == [1]
