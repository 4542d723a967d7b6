"""Structured output: reading an answer as JSON, checking it against the client's schema, and
merging several JSON answers into one (ensemble's aggregations).

Validation uses the `jsonschema` library (Draft 2020-12, what OpenAI's `json_schema` and
pydantic's schemas are written in); nothing here is hand-written validation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from chorus.errors import InvalidRequest
from chorus.types import JSON, OutputFormat

MAX_ERRORS = 3


def check_schema(schema: JSON, param: str) -> None:
    """A 400 naming `param` when the client's schema is not a valid JSON Schema."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidRequest(f"{param}: not a valid JSON Schema: {exc.message}",
                             param=param) from exc


@lru_cache(maxsize=256)
def _validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator(orjson.loads(schema))


def parse(text: str) -> Any:
    """The JSON value an answer holds: the whole text, or one fenced ```json block."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    return orjson.loads(stripped)


def problems(output: OutputFormat, text: str) -> list[str]:
    """Why `text` is not a valid answer in `output`'s format; empty when it is."""
    try:
        value = parse(text)
    except orjson.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(value, dict) and output.kind == "json_object":
        return ["not a JSON object"]
    if output.kind != "json_schema" or output.schema is None:
        return []
    found = _validator(orjson.dumps(output.schema, option=orjson.OPT_SORT_KEYS).decode())
    errors = sorted(found.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in errors[:MAX_ERRORS]]


def canonical(value: Any) -> str:
    """The JSON value written so that equal values are equal strings."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def merge_majority(values: Sequence[Any]) -> Any:
    """Field by field, the value most answers agree on (the earliest answer breaks ties)."""
    if values and all(isinstance(v, dict) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        merged = {}
        for key in keys:
            present = [v[key] for v in values if key in v]
            if len(present) * 2 >= len(values):  # a field most answers leave out stays out
                merged[key] = merge_majority(present)
        return merged
    counts = Counter(canonical(v) for v in values)
    best = max(counts.values())
    return next(v for v in values if counts[canonical(v)] == best)


def merge_union(values: Sequence[Any]) -> Any:
    """Every distinct array item of every answer; objects merged field by field; for other
    values, the one most answers agree on."""
    if values and all(isinstance(v, dict) for v in values):
        keys = list(dict.fromkeys(k for v in values for k in v))
        return {key: merge_union([v[key] for v in values if key in v]) for key in keys}
    if values and all(isinstance(v, list) for v in values):
        seen: dict[str, Any] = {}
        for items in values:
            for item in items:
                seen.setdefault(canonical(item), item)
        return list(seen.values())
    return merge_majority(values)


def repair_prompt(output: OutputFormat, issues: Sequence[str]) -> str:
    """What a model is told when its answer is not in the requested format."""
    want = ("a JSON object" if output.kind == "json_object" or output.schema is None
            else f"JSON valid against this JSON Schema:\n{dumps(output.schema)}")
    return ("Your answer is not in the required format: " + "; ".join(issues)
            + f". Reply again with only {want}: no prose, no code fence.")
