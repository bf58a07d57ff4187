"""The command's figures from known transitions (the replay replaced by a fixed answer)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from dashboard.evaluation import commands
from dashboard.evaluation.metrics import Transition

H = 3600


def test_figures_and_what_the_model_missed(tmp_path, monkeypatch):
    corpus = commands.build_corpus(tmp_path, quick=True)  # no real data here: the demo home
    stops = [c for c in corpus.cases if c.kind == "stop"]
    absence = next(c for c in corpus.cases if c.kind == "absence")
    home = corpus.homes[0]

    def fake_replay(corpus_, workers):
        out = {"model": defaultdict(list), "fixed": defaultdict(list)}
        for k, c in enumerate(stops):
            # fixed: the ladder at 24/36/48 h; model: 3 h, except the first stop it misses
            for h, stage in ((24, "attention"), (36, "risk"), (48, "severe")):
                out["fixed"][c.case_id].append(
                    Transition(c.case_id, "plug_no_change", "person", stage, c.onset + h * H)
                )
            if k:
                out["model"][c.case_id].append(
                    Transition(c.case_id, "plug_routine", "person", "severe", c.onset + 3 * H)
                )
        normal = f"{home.home}|normal"
        for at in (int(home.ts[10]), int(home.ts[500])):
            out["fixed"][normal] += [
                Transition(normal, "plug_no_change", "person", "attention", at),
                Transition(normal, "plug_no_change", "person", None, at + H),
            ]
        # After the recording's last reading (another device kept the shared clock running):
        # the end of a file, not a false alarm.
        end = int(home.ts[-1]) + home.step_s
        out["fixed"][normal].append(
            Transition(normal, "plug_no_change", "person", "attention", end + 20 * H)
        )
        out["model"][absence.case_id].append(
            Transition(absence.case_id, "plug_routine", "person", "attention", absence.onset + H)
        )
        return out

    monkeypatch.setattr(commands, "replay_all", fake_replay)
    doc = commands.evaluate(tmp_path, quick=True, workers=1)
    tune = doc["results"]["tune"]
    fixed, model = tune["fixed"], tune["model"]
    assert fixed["stops"]["median_first_alert_h"] == 24
    assert fixed["stops"]["median_severe_h"] == 48
    assert fixed["stops"]["sensitivity_24h"] == 1 and fixed["stops"]["missed_96h"] == 0
    assert model["stops"]["median_first_alert_h"] == 3 and model["stops"]["missed_96h"] == 1
    assert model["stops"]["sensitivity_24h"] == pytest.approx(0.75)
    assert model["stops"]["p90_first_alert_h"] is None  # the 90th percentile is the miss
    assert [m["case_id"] for m in tune["fixed_caught_model_missed"]] == [stops[0].case_id]
    assert tune["fixed_caught_model_missed"][0]["fixed_first_alert_h"] == 24
    fa = fixed["false_alarms"]
    assert fa["person_alerts"] == 2 and fa["households"] == 1
    assert fa["per_household_per_50_days"] == pytest.approx(2 / home.days * 50, abs=0.01)
    assert [a["home"] for a in fa["alerts"]] == [home.home] * 2
    assert model["false_alarms"]["person_alerts"] == 0
    assert model["absences"]["alerts_during_absence"] == 1
    assert fixed["absences"]["alerts_during_absence"] == 0
    assert doc["results"]["report"]["fixed"]["stops"]["n"] == 0
    text = commands.render(doc)
    assert "caught by the fixed rule, missed by the model: 1" in text
    assert "> 96 h" in text
