"""The committed OpenAPI document is the vendor contract: it must match the running app."""

from __future__ import annotations

import json

from dashboard.db.schema.devices import EVENT_TYPES
from dashboard.ingest.api import openapi_document
from dashboard.ingest.commands import OPENAPI_PATH


def test_committed_openapi_matches_the_app():
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == openapi_document(), (
        "docs/openapi.json is out of date: run `python -m dashboard ingest-openapi`"
    )


def test_openapi_documents_every_event_type_auth_and_errors():
    spec = json.loads(openapi_document())
    post = spec["paths"]["/v1/events"]["post"]
    assert set(post["responses"]) == {"200", "401", "413", "422", "503"}
    assert post["security"] == [{"APIKeyHeader": []}]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    union = spec["components"]["schemas"]["EventBatch"]["properties"]["events"]["items"]
    assert set(union["discriminator"]["mapping"]) == set(EVENT_TYPES)
    power = spec["components"]["schemas"]["PowerEvent"]
    assert power["properties"]["ts"]["format"] == "date-time"
    assert set(power["required"]) == {"event_id", "device_id", "ts", "type", "watts"}


def test_the_vendor_doc_covers_every_type_field_command_and_status():
    """Docs as tests: a new event type, field, CLI command or status must be documented."""
    from dashboard.ingest.commands import register
    from dashboard.ingest.events import ALL_FIELDS, MODELS

    doc = (OPENAPI_PATH.parent / "ingest-api.md").read_text(encoding="utf-8")
    for kind in MODELS:
        assert f"| `{kind}` |" in doc, f"event type {kind} missing from the types table"
    for name in ALL_FIELDS:
        assert f"`{name}`" in doc, f"field {name} undocumented"
    import argparse

    sub = argparse.ArgumentParser().add_subparsers()
    register(sub)
    for command in sub.choices:
        assert f"python -m dashboard {command}" in doc, f"command {command} undocumented"
    for status in ("200", "401", "413", "422", "503"):
        assert f"| {status} |" in doc
    assert "anbu/+/events" in doc and "anbu/<vendor>/results" in doc
