"""Operating a deployment: backup of the embedded database, retention of raw events."""
