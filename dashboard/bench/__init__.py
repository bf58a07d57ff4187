"""``python -m dashboard bench``: Seoul-scale speed figures (see docs/benchmarks.md).

Modules: ``city`` (build or reuse the cached benchmark database), ``ingest`` (events per second
through a real uvicorn server), ``timings`` (rule tick and live-page queries), ``commands``.
"""
