"""The ingest server as the bench runs it: ``serve-ingest``'s app under uvicorn, reporting its
peak memory on exit (``python -m dashboard.bench.server --port N``)."""

from __future__ import annotations

import argparse

import uvicorn

from dashboard.bench.memory import own_peak_mb
from dashboard.db.engine import make_engine
from dashboard.ingest.api import create_app
from dashboard.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    engine = make_engine(get_settings().resolved_database_url)
    app = create_app(engine)
    # On shutdown, not after run(): uvicorn re-raises SIGTERM once it has shut down.
    app.router.on_shutdown.append(_report_peak)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def _report_peak() -> None:
    print(f"peak_memory_mb={own_peak_mb():.1f}", flush=True)


if __name__ == "__main__":
    main()
