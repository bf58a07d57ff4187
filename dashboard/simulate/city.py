"""The live city: turns the roster into a stream of device events, 10 seconds at a time.

Deterministic: the events of slot ``k`` depend only on the seed, ``k`` and the simulator's state,
which in turn depends only on the roster and the slots already played. Playing the same slots
in one call or in many gives the same events, so a seed and a clock reproduce a run.

Every device continues from its ``device_state``: a silent device stays silent, a still
household keeps reporting unchanged readings, a wanderer outside the zone is still outside. Each
such condition ends after a while (the person comes home, the plug is plugged back in), and rare
incidents start new ones, so the wall screen shows both opening and closing alerts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dashboard.clock import require_aware
from dashboard.demo import rates
from dashboard.demo.clock import TimeGrid
from dashboard.demo.routines import tv_household
from dashboard.simulate.roster import KST_S, WEEK_S, Roster

SLOT_S = 10
HOUR_S, DAY_S = 3600, 86_400
NORMAL, STILL, SILENT = 0, 1, 2

# Regular reports, in slots: plugs and wanderers every 10 min, other heartbeats hourly.
REPORT_EVERY = {"smart_plug": 60, "wandering_detector": 60}
HEARTBEAT_EVERY = {"care_robot": 360, "smoking_detector": 360, "park_machine": 360}
INCIDENTS = ("sos", "wander_out", "go_still", "go_silent")
# A call-hour profile (Seoul time): mornings and early evenings, as in the demo routine.
_CALL_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0.5, 1.5, 3, 5, 6, 6, 5, 5, 5, 5, 5, 6, 7, 6, 4, 2.5, 1, 0.3]
)
CALL_HOURS = _CALL_HOURS / _CALL_HOURS.sum()
M_PER_DEG = 111_320.0


def incident_rates(roster: Roster) -> dict[str, float]:
    """Incidents per hour across the city, at the rates the demo's history was generated with
    (``dashboard.demo.rates``), so the live day looks like the days before it. (Livelier rates
    once made device-silence alerts jump from a few a day to 46 on the day the app ran.)"""
    count = lambda code: int((roster.types == code).sum())  # noqa: E731
    # Devices that can fail, each weighted by its vendor's fault factor (rates.FAULT_FACTOR).
    may_fail = float(
        sum(
            rates.FAULT_FACTOR.get(v, 1.0)
            for v, code in zip(roster.vendors, roster.types, strict=True)
            if code != "ai_call_line"
        )
    )
    return {
        "sos": rates.ROBOT_SOS_PER_FLEET_DAY / 24 if count("care_robot") else 0.0,
        "wander_out": rates.WANDER_EXITS_PER_DAY * count("wandering_detector") / 24,
        "go_still": rates.PLUG_AWAY_PER_DAY * count("smart_plug") / 24,
        "go_silent": rates.DEVICE_FAULTS_PER_DAY * may_fail / 24,
    }


def slot_of(at: datetime) -> int:
    """The slot that contains ``at``."""
    return int(at.timestamp()) // SLOT_S


class CitySimulator:
    """Plays the city slot by slot; ``play(until)`` returns the events of the slots it crossed."""

    def __init__(self, roster: Roster, *, seed: int, start: datetime) -> None:
        require_aware(start, "start")
        self.r = roster
        self.seed = seed
        self.next_slot = slot_of(start)
        n = len(roster)
        t0 = float(self.next_slot * SLOT_S)
        init = np.random.Generator(np.random.PCG64([seed, 1]))
        self.phase = (roster.ids * 7919) % 360  # spreads regular reports over the hour
        self.mode = np.zeros(n, dtype=np.int8)
        self.mode_until = np.full(n, np.inf)
        self._continue_conditions(init, t0)
        # Personal rates, fixed for the run.
        self.call_rate = init.lognormal(math.log(2.6), 0.55, n)  # calls a day
        self.p_answer = init.beta(14, 1.6, n)  # AI calls
        weekly = init.integers(0, 5 * DAY_S, n) // 60 * 60 + 10 * HOUR_S  # fallback slot
        self.ai_week_s = np.where(roster.ai_week_s >= 0, roster.ai_week_s, weekly)
        # Wanderers: battery and the current excursion beyond the zone (end time, metres, bearing).
        self.battery = np.where(np.isnan(roster.battery), init.uniform(50, 100, n), roster.battery)
        self.out_until = np.full(n, -np.inf)
        self.out_m = np.zeros(n)
        self.bearing = init.uniform(0, 2 * math.pi, n)
        wander = roster.of_type("wandering_detector")
        outside = wander[self._distance_home(wander) > roster.zone_m[wander]]
        self.out_until[outside] = t0 + init.uniform(10, 40, len(outside)) * 60
        self.out_m[outside] = self._distance_home(outside)
        self.power = roster.power.copy()
        self.lux = roster.lux.copy()
        self._tv: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._plugs = roster.of_type("smart_plug")
        self.per_hour = incident_rates(roster)
        self._plug_pos = np.full(n, -1)
        self._plug_pos[self._plugs] = np.arange(len(self._plugs))
        self._reconnect = True  # devices say hello when the feed (re)starts

    # -- state carried over from the database ---------------------------------------------
    def _continue_conditions(self, rng: np.random.Generator, t0: float) -> None:
        """Silent devices stay silent and still people stay still, for a while.

        Staleness is judged against the city's own newest signal, not the wall clock, so a demo
        built days ago resumes as it stopped instead of going silent all at once.
        """
        r = self.r
        ref = r.newest_signal or t0
        # An AI-call line that has not been called yet is waiting for its weekly slot, not silent.
        never = np.isnan(r.last_seen) & (r.types != "ai_call_line")
        silent = never | (ref - r.last_seen > r.timeout_s)
        person_alert = np.array([s in ("attention", "risk", "severe") for s in r.states])
        quiet_type = np.isin(r.types, ["smart_plug", "phone_line", "care_robot"])
        still = ~silent & person_alert & quiet_type
        n = len(r)
        self.mode[silent] = SILENT
        self.mode[still] = STILL
        # Most conditions resolve within a day; some last longer (a hospital stay).
        self.mode_until[silent | still] = t0 + rng.exponential(18 * HOUR_S, n)[silent | still]

    def _distance_home(self, idx: np.ndarray) -> np.ndarray:
        r = self.r
        dy = (r.lat[idx] - r.home_lat[idx]) * M_PER_DEG
        dx = (r.lon[idx] - r.home_lon[idx]) * M_PER_DEG * np.cos(np.radians(r.home_lat[idx]))
        return np.nan_to_num(np.hypot(dx, dy), nan=0.0)

    # -- playing -----------------------------------------------------------------------------
    def play(self, until: datetime) -> list[dict[str, Any]]:
        """Events of every whole slot that ends at or before ``until`` and was not played yet."""
        end_slot = int(until.timestamp()) // SLOT_S  # the slot still running is not played
        events: list[dict[str, Any]] = []
        while self.next_slot < end_slot:
            events.extend(self._slot(self.next_slot))
            self.next_slot += 1
        return events

    @property
    def played_until(self) -> datetime:
        return datetime.fromtimestamp(self.next_slot * SLOT_S, UTC)

    def _slot(self, k: int) -> list[dict[str, Any]]:
        rng = np.random.Generator(np.random.PCG64([self.seed, 2, k]))
        t = float(k * SLOT_S)
        local = (k * SLOT_S + KST_S) % DAY_S
        hour = local // HOUR_S
        out: list[dict[str, Any]] = []
        recovered = self.mode_until <= t
        self.mode[recovered] = NORMAL
        self.mode_until[recovered] = np.inf
        self._incidents(rng, t, out)
        live = self.mode != SILENT
        in_slot = (k + self.phase) % 360  # 0..359: this device's turn within the hour
        if self._reconnect:
            # After an outage devices reconnect with a heartbeat, so a line that only calls
            # now and then is not taken for a dead one while it waits for its next call.
            self._reconnect = False
            hello = np.isin(self.r.types, [*HEARTBEAT_EVERY, "phone_line"]) & live
            for i in np.flatnonzero(hello).tolist():
                out.append(self._event(i, t + i % SLOT_S, "heartbeat"))
            in_slot = np.where(hello, -1, in_slot)  # one heartbeat per device in this slot

        plugs = self._plugs[
            live[self._plugs] & (in_slot[self._plugs] % REPORT_EVERY["smart_plug"] == 0)
        ]
        self._plug_reports(plugs, k, hour, rng, t, out)
        wander = self.r.of_type("wandering_detector")
        self._positions(
            wander[live[wander] & (in_slot[wander] % REPORT_EVERY["wandering_detector"] == 0)],
            hour,
            rng,
            t,
            out,
        )
        for code in HEARTBEAT_EVERY:
            idx = self.r.of_type(code)
            for i in idx[live[idx] & (in_slot[idx] == 0)]:
                out.append(self._event(i, t + i % SLOT_S, "heartbeat"))
        phones = self.r.of_type("phone_line")
        carrier = local // SLOT_S == 4 * 360 + self.phase[phones]  # daily 04:00-05:00 heartbeat
        for i in phones[live[phones] & carrier & (in_slot[phones] >= 0)]:
            out.append(self._event(i, t + i % SLOT_S, "heartbeat"))
        self._calls(phones, live, hour, rng, t, out)
        self._ai_calls(live, k, rng, t, out)
        # Daily rates spread over waking hours: ~1.44 services per robot (the documented 144 a
        # day for 100 robots), a few triggers per smoking detector, sessions per park machine.
        robot_p = 1.44 / 14 / 360 * (7 <= hour < 21)
        self._bernoulli("care_robot", robot_p, rng, t, out, "interaction")
        self._bernoulli("smoking_detector", 6 / 16 / 360 * (7 <= hour < 23), rng, t, out, "trigger")
        self._bernoulli("park_machine", 8 / 14 / 360 * (6 <= hour < 20), rng, t, out, "session")
        out.sort(key=lambda e: e["ts"])
        return out

    def _incidents(self, rng: np.random.Generator, t: float, out: list) -> None:
        """Rare events that make the wall screen move; each picks one device at random."""
        draws = rng.random(len(INCIDENTS))
        for kind, u in zip(INCIDENTS, draws, strict=True):
            if u >= self.per_hour[kind] * SLOT_S / HOUR_S:
                continue
            code = {"sos": "care_robot", "wander_out": "wandering_detector"}.get(kind)
            pool = self.r.of_type(code) if code else self._plugs
            if kind == "go_silent":
                pool = np.flatnonzero(self.r.types != "ai_call_line")
            pool = pool[self.mode[pool] == NORMAL]
            weights = None
            if kind == "go_silent" and len(pool):
                factor = np.array([rates.FAULT_FACTOR.get(self.r.vendors[j], 1.0) for j in pool])
                weights = factor / factor.sum()
            if kind == "wander_out":
                pool = pool[self.out_until[pool] < t]
            if not len(pool):
                continue
            i = int(rng.choice(pool, p=weights))
            if kind == "sos":
                out.append(self._event(i, t + rng.integers(SLOT_S), "sos"))
            elif kind == "wander_out":
                self.out_until[i] = t + rng.uniform(20, 60) * 60
                self.out_m[i] = np.nan_to_num(self.r.zone_m[i], nan=500) * rng.uniform(1.3, 2.5)
                self.bearing[i] = rng.uniform(0, 2 * math.pi)
            elif kind == "go_still":  # away: a no-change alert if longer than the threshold
                self.mode[i], self.mode_until[i] = STILL, t + rates.away_hours(rng) * HOUR_S
            else:  # unplugged or out of battery: a device-fault ticket after its timeout
                self.mode[i], self.mode_until[i] = SILENT, t + rates.fault_hours(rng) * HOUR_S

    def _tv_day(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Hourly TV power and lux of every plug for one Seoul day (the demo's routine)."""
        if day not in self._tv:
            rng = np.random.Generator(np.random.PCG64([self.seed, 3, day]))
            end = datetime.fromtimestamp((day + 1) * DAY_S - KST_S - 60, UTC)
            self._tv = {day: tv_household(rng, TimeGrid.make(end, 1), len(self._plugs))}
        return self._tv[day]

    def _plug_reports(self, idx, k, hour, rng, t, out) -> None:
        if not len(idx):
            return
        power, lux = self._tv_day((k * SLOT_S + KST_S) // DAY_S)
        pos = self._plug_pos[idx]
        still = self.mode[idx] == STILL
        noise = rng.normal(0, 1, (2, len(idx)))
        base_w = np.nan_to_num(self.power[idx], nan=1.5)
        base_lx = np.nan_to_num(self.lux[idx], nan=2.0)
        # A still household's readings only drift within the noise margins.
        w = np.where(still, base_w + 0.2 * noise[0], power[pos, hour] * (1 + 0.02 * noise[0]))
        lx = np.where(still, base_lx + 1.0 * noise[1], lux[pos, hour] + 1.5 * noise[1])
        w, lx = np.round(np.clip(w, 0, None), 1), np.round(np.clip(lx, 0, None), 1)
        self.power[idx] = np.where(still, base_w, w)
        self.lux[idx] = np.where(still, base_lx, lx)
        for i, wi, li in zip(idx.tolist(), w.tolist(), lx.tolist(), strict=True):
            ts = t + i % SLOT_S
            out.append(self._event(i, ts, "power", watts=wi))
            out.append(self._event(i, ts, "lux", lux=li))

    def _positions(self, idx, hour, rng, t, out) -> None:
        if not len(idx):
            return
        r = self.r
        zone = np.nan_to_num(r.zone_m[idx], nan=500)
        walking = (9 <= hour < 18) & (rng.random(len(idx)) < 0.3)
        dist = np.where(
            walking, zone * rng.uniform(0.2, 0.7, len(idx)), rng.uniform(0, 15, len(idx))
        )
        outside = self.out_until[idx] > t
        dist = np.where(outside, self.out_m[idx], dist)
        bearing = np.where(outside, self.bearing[idx], rng.uniform(0, 2 * math.pi, len(idx)))
        lat = r.home_lat[idx] + dist * np.cos(bearing) / M_PER_DEG
        lon = r.home_lon[idx] + dist * np.sin(bearing) / (
            M_PER_DEG * np.cos(np.radians(r.home_lat[idx]))
        )
        # Drains ~0.6 %/h; families charge it when it gets low (sometimes late).
        self.battery[idx] -= 0.1
        charge = (self.battery[idx] < 30) & (rng.random(len(idx)) < 0.05)
        self.battery[idx] = np.clip(np.where(charge, 100.0, self.battery[idx]), 1, 100)
        for n, i in enumerate(idx.tolist()):
            if math.isnan(lat[n]):
                continue  # a detector without a home cannot be placed
            out.append(
                self._event(
                    i,
                    t + i % SLOT_S,
                    "position",
                    lat=round(float(lat[n]), 6),
                    lon=round(float(lon[n]), 6),
                    accuracy_m=float(rng.integers(5, 30)),
                    battery_pct=round(float(self.battery[i]), 1),
                )
            )

    def _calls(self, phones, live, hour, rng, t, out) -> None:
        p = self.call_rate[phones] * CALL_HOURS[hour] / 360
        hit = phones[live[phones] & (rng.random(len(phones)) < p)]
        for i in hit.tolist():
            direction = "out" if rng.random() < 0.5 else "in"
            # A still person does not pick up: the call is logged with no duration.
            answered = self.mode[i] == NORMAL and rng.random() < 0.9
            duration = float(round(rng.lognormal(4.3, 0.8))) if answered else 0.0
            if self.mode[i] != NORMAL:
                direction = "in"
            out.append(
                self._event(
                    i, t + rng.integers(SLOT_S), "call", direction=direction, duration_s=duration
                )
            )

    def _ai_calls(self, live, k, rng, t, out) -> None:
        lines = self.r.of_type("ai_call_line")
        week_slot = ((k * SLOT_S + KST_S) % WEEK_S) // SLOT_S
        due = lines[live[lines] & (self.ai_week_s[lines] // SLOT_S == week_slot)]
        for i in due.tolist():
            if rng.random() >= self.p_answer[i]:
                outcome = "unanswered"
            else:
                outcome = "concern" if rng.random() < 0.008 else "answered"
            out.append(self._event(i, t + rng.integers(SLOT_S), "ai_call_result", outcome=outcome))

    def _bernoulli(self, code, p, rng, t, out, kind) -> None:
        idx = self.r.of_type(code)
        if not len(idx) or p <= 0:
            return
        ok = (self.mode[idx] == NORMAL) & (rng.random(len(idx)) < p)
        for i in idx[ok].tolist():
            fields = {"duration_s": float(rng.integers(300, 1500))} if kind == "session" else {}
            out.append(self._event(i, t + rng.integers(SLOT_S), kind, **fields))

    def _event(self, i: int, ts: float, kind: str, **fields: Any) -> dict[str, Any]:
        at = datetime.fromtimestamp(int(ts), UTC)
        uid = self.r.uids[i]
        return {
            "vendor": self.r.vendors[i],
            "event_id": f"sim-{uid}-{int(ts)}-{kind}",
            "device_id": uid,
            "ts": at.isoformat().replace("+00:00", "Z"),
            "type": kind,
            **fields,
        }


def by_vendor(events: list[dict[str, Any]], size: int = 1000) -> list[tuple[str, list[dict]]]:
    """Split events into per-vendor batches of at most ``size``, without the vendor field."""
    groups: dict[str, list[dict]] = {}
    for e in events:
        body = dict(e)
        groups.setdefault(body.pop("vendor"), []).append(body)
    return [
        (vendor, items[start : start + size])
        for vendor, items in sorted(groups.items())
        for start in range(0, len(items), size)
    ]
