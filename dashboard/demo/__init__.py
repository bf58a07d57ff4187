"""Deterministic demo city: people, devices, history, alerts, complaints and participation."""

from dashboard.demo.build import DemoRefused, DemoSummary, build_demo

__all__ = ["DemoRefused", "DemoSummary", "build_demo"]
