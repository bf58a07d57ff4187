"""Figures and budget tables transcribed from the source documents: read, check, load."""
