"""The event contracts (`events/schemas/<Type>.schema.json`) checked on the wire: a message as
SQS delivered it from a topic (raw delivery), body and message attributes. Used by the e2e
tests' tap, so every message any test makes the pipeline publish is checked."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from local_aws import ROOT

SCHEMAS = ROOT / "events" / "schemas"


@cache
def validators() -> dict[str, Draft202012Validator]:
    """One validator per event type, formats (date-time) checked too."""
    out = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        out[path.name.removesuffix(".schema.json")] = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return out


def violations(body: str, attributes: dict[str, Any]) -> list[str]:
    """What is wrong with one published message; empty when it keeps its contract. `attributes`
    are the SQS message attributes (SNS's, carried by raw delivery)."""
    try:
        event = json.loads(body)
    except ValueError:
        return [f"not JSON: {body[:80]!r}"]
    if not isinstance(event, dict):
        return [f"not an object: {body[:80]!r}"]
    where = f"{event.get('type')} {event.get('id')} of order {event.get('order_id')}"
    validator = validators().get(str(event.get("type")))
    if validator is None:
        return [f"{where}: no schema for type {event.get('type')!r}"]
    found = [
        f"{where}: {'/'.join(map(str, e.absolute_path)) or '(event)'}: {e.message}"
        for e in validator.iter_errors(event)
    ]
    # The queues' filter policies match this attribute, not the body.
    attr = (attributes.get("type") or {}).get("StringValue")
    if attr != event.get("type"):
        found.append(f"{where}: message attribute type is {attr!r}, not the body's type")
    return found
