"""The watch list keeps each home's own district's ``min_quiet_h``: a district that scores
sooner widens the candidates, not the other homes' gate."""

from __future__ import annotations

from test_actions_support import T0, add_person, seed
from test_level_district import ILSAN_DONG, JONGNO, JONGNO_DONG

from dashboard.rules.config import Thresholds
from dashboard.rules.districts import proposed_thresholds
from queries.watch import drifting_homes
from tests.routine_support import give_routine

CITY = Thresholds(plug_routine={"min_quiet_h": 4.0})  # the city scores a spell from 4 h


def test_a_lenient_district_does_not_list_a_city_home_before_its_own_min_quiet_h(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        _i, ilsan = add_person(conn, region_id=ILSAN_DONG)
        _j, jongno = add_person(conn, program_id=2, region_id=JONGNO_DONG)
        for plug in (ilsan, jongno):
            # 3 h: well past halfway in missed half-hours, under the city's 4 h
            give_routine(conn, plug, T0, quiet_h=3.0)
    lenient = proposed_thresholds(CITY, JONGNO, {"plug_routine.min_quiet_h": 1.0})
    with db_engine.connect() as conn:
        watch = drifting_homes(conn, T0, thresholds=lenient)
    assert watch.candidates == 2  # Jongno's 1 h takes both into the scan
    # Jongno is past its own 1 h; Ilsan's routine is not loaded before the city's 4 h (the
    # facts' routine_quiet gate, as the tick's), whatever it already misses.
    assert list(watch.rows["device_id"]) == [jongno]
