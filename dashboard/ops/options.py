"""Command-line options shared by the long-running commands (light: no heavy imports)."""

from __future__ import annotations

import argparse


def add_metrics_options(parser: argparse.ArgumentParser, env: str) -> None:
    """``--metrics-port`` and ``--metrics-host``, shared by the worker and the MQTT bridge."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="N",
        help=f"serve Prometheus metrics at http://HOST:N/metrics (default: {env}, else off)",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address the metrics server listens on (default 127.0.0.1; 0.0.0.0 for all)",
    )
