"""Database layer: engine, schema and migrations."""
