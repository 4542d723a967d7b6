"""A JSON instance valid against a JSON Schema, for simulated and fake models.

Covers what tool and output schemas use in practice (OpenAI strict schemas, pydantic's):
objects, strings (enum, const, length, a few formats), numbers within bounds, arrays within
item counts, anyOf/oneOf/allOf, type lists, nullable and local `$ref`s (`#/$defs/...`).
`pattern` is not solved: a string with one gets the plain filler text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chorus.records import record
from chorus.types import JSON

MAX_DEPTH = 6
"""Below this depth only required properties and minimal arrays: recursive schemas end."""
FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T12:00:00Z",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
TYPE_OF = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
           dict: "object", type(None): "null"}


@record
class Filler:
    """Where strings come from: words of the question, one phrase per string field."""

    words: tuple[str, ...] = ()
    root: JSON | None = None
    """The whole schema, for `$ref`."""
    variant: int = 0
    """Which valid instance: enum members, booleans and numbers differ from one to the next
    (0 gives the first enum member, `true`, and the middle of a number's range)."""

    def text(self, key: str) -> str:
        phrase = " ".join(self.words[:3]) if self.words else ""
        return phrase or key.replace("_", " ") or "example"


def sample(schema: JSON, words: Sequence[str] = (), variant: int = 0) -> Any:
    """A value `schema` accepts, its strings taken from `words` where the schema allows;
    another `variant` gives another valid value (different models answer differently)."""
    return _value(schema, Filler(tuple(words), schema, variant), "value", 0)


def _resolve(schema: JSON, filler: Filler) -> JSON:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#") or filler.root is None:
        return schema
    target: Any = filler.root
    for part in filter(None, ref[1:].split("/")):
        target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) \
            if isinstance(target, dict) else {}
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    return {**_resolve(target, filler), **rest} if isinstance(target, dict) else rest


def _value(schema: Any, filler: Filler, key: str, depth: int) -> Any:
    if not isinstance(schema, dict):
        return None if schema is False else filler.text(key)
    schema = _resolve(schema, filler)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][filler.variant % len(schema["enum"])]
    if isinstance(schema.get("allOf"), list):
        return _value(_merged(schema, filler), filler, key, depth)
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            rest = {k: v for k, v in schema.items() if k != combinator}
            return _value({**rest, **_resolve(_pick(options, filler), filler)}, filler, key,
                          depth)
    kind = _kind(schema)
    if kind == "object":
        return _object(schema, filler, depth)
    if kind == "array":
        return _array(schema, filler, key, depth)
    if kind in ("number", "integer"):
        return _number(schema, kind == "integer", filler.variant % 5)
    if kind == "boolean":
        return filler.variant % 2 == 0
    if kind == "null":
        return None
    return _string(schema, filler, key)


def _pick(options: list[Any], filler: Filler) -> JSON:
    """The first option that is not just `null` (a nullable field gets a value)."""
    found = [o for o in options if isinstance(o, dict)]
    real = [o for o in found if _resolve(o, filler).get("type") != "null"]
    return (real or found or [{}])[0]


def _kind(schema: JSON) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = kinds[0] if kinds else None
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if "minimum" in schema or "maximum" in schema:
        return "number"
    return "string"


def _merged(schema: JSON, filler: Filler) -> JSON:
    """allOf as one schema: properties and required lists joined, other keys overlaid."""
    out: JSON = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        if not isinstance(part, dict):
            continue
        part = _resolve(part, filler)
        properties = {**out.get("properties", {}), **part.get("properties", {})}
        required = [*out.get("required", []), *part.get("required", [])]
        out = {**out, **part, "properties": properties, "required": required}
    return out


def _object(schema: JSON, filler: Filler, depth: int) -> JSON:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    keep = [name for name in properties if depth < MAX_DEPTH or name in required]
    out = {name: _value(properties[name], filler, name, depth + 1) for name in keep}
    for name in sorted(required - set(out)):
        extra = schema.get("additionalProperties")
        out[name] = _value(extra if isinstance(extra, dict) else {}, filler, name, depth + 1)
    return out


def _array(schema: JSON, filler: Filler, key: str, depth: int) -> list[Any]:
    low = int(schema.get("minItems") or 0)
    high = schema.get("maxItems")
    count = low if depth >= MAX_DEPTH else max(low, 1)
    if isinstance(high, int):
        count = min(count, high)
    prefix = schema.get("prefixItems")
    prefix = prefix if isinstance(prefix, list) else []
    items = schema.get("items", {})
    out = [_value(p, filler, key, depth + 1) for p in prefix[:max(count, len(prefix))]]
    while len(out) < count:
        out.append(_value(items, filler, key, depth + 1))
    if schema.get("uniqueItems") and len(out) > 1 and all(isinstance(v, str) for v in out):
        out = [f"{v} {i + 1}" if i else v for i, v in enumerate(out)]
    return out


def _number(schema: JSON, integer: bool, shift: int) -> int | float:
    """The middle of the range (shift 0) or a point along it; 1 and up when unbounded."""
    low, high = _bound(schema, "minimum"), _bound(schema, "maximum")
    if (found := _bound(schema, "exclusiveMinimum")) is not None:
        low = found + (1 if integer else 0.5)
    if (found := _bound(schema, "exclusiveMaximum")) is not None:
        high = found - (1 if integer else 0.5)
    if low is not None and high is not None:
        value = (low + high) / 2 if not shift else low + (high - low) * shift / 4
    elif low is not None:
        value = low + shift
    elif high is not None:
        value = min(high, 1) - shift
    else:
        value = 1.0 + shift
    step = _bound(schema, "multipleOf")
    if step is not None and step > 0:
        value = step * round(value / step)
        if high is not None and value > high:
            value -= step
        if low is not None and value < low:
            value += step
    if integer:
        whole = int(value)
        return whole + 1 if low is not None and whole < low else whole
    return float(value)


def _bound(schema: JSON, key: str) -> float | None:
    found = schema.get(key)
    return found if isinstance(found, (int, float)) and not isinstance(found, bool) else None


def _string(schema: JSON, filler: Filler, key: str) -> str:
    text = FORMATS.get(str(schema.get("format")), "") or filler.text(key)
    low = int(schema.get("minLength") or 0)
    high = schema.get("maxLength")
    if len(text) < low:
        text = (text + " " + "x" * low)[:max(low, len(text))]
    if isinstance(high, int):
        text = text[:high]
    return text
