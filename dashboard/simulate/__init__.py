"""Live simulator of the demo city: device events continuing from ``device_state``.

``python -m dashboard simulate`` sends them through the vendor HTTP API; the embedded app's
background loop (``dashboard.background``) sends them through ``ingest_events`` in-process.
Modules: ``roster`` (devices and their state, from the database), ``city`` (the deterministic
event model), ``feed`` (play up to the clock and send), ``sinks`` (HTTP or in-process),
``keys`` (per-run demo vendor keys), ``commands`` (CLI). See docs/demo-city.md, "Live simulation".
"""
