"""The council briefing deck: slides from live data (``slides``), their charts (``charts``),
the PDF and PPTX export (``export``) and ``python -m dashboard briefing`` (``commands``)."""
