"""Routine-aware detection for smart plugs: what counts as a sign of life in a home's power
signal (``background``), what a home's days normally look like (``routine``) and how unusual
the current quiet spell is (``score``). Pure functions; the database side is in ``store``."""
