"""How the fake behaves: server flags, overridden per request by headers or the model name."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Literal

from chorus.records import record

Fault = Literal["none", "500", "429", "401", "hang", "cut", "malformed"]
FAULTS: tuple[str, ...] = ("none", "500", "429", "401", "hang", "cut", "malformed")


@record
class Knobs:
    ttft_ms: float = 0.0
    """Latency before the first token (or the whole answer)."""
    tps: float = 0.0
    """Tokens per second once streaming; 0 sends them as fast as it can."""
    tokens: int = 24
    """Answer length in tokens (words)."""
    fault: str = "none"
    times: int = 0
    """Inject the fault only into the first N requests of this model name; 0 means always."""
    cut_after: int = 3
    """For `cut` and `malformed`: chunks sent before the fault."""
    retry_after: float = 1.0
    """The Retry-After of a 429, in seconds."""
    tool: str = ""
    """Ask for this tool before answering (a model that calls tools)."""
    tool_calls: int = 1
    """How many tool calls to make before the final answer."""


HEADER_PREFIX = "x-fake-"


def parse_value(knobs: Knobs, name: str, raw: str) -> Knobs:
    name = name.strip().replace("-", "_")
    kinds = {f.name: f.type for f in fields(Knobs)}
    if name not in kinds:
        return knobs
    value: Any = raw.strip()
    if kinds[name] in ("float", float):
        value = float(raw)
    elif kinds[name] in ("int", int):
        value = int(raw)
    if name == "fault" and value not in FAULTS:
        raise ValueError(f"unknown fault {value!r}; one of {', '.join(FAULTS)}")
    return replace(knobs, **{name: value})


def from_model(knobs: Knobs, model: str) -> tuple[str, Knobs]:
    """`small@fault=500,times=2` is model `small` with those knobs."""
    base, _, spec = model.partition("@")
    for pair in filter(None, spec.split(",")):
        name, _, raw = pair.partition("=")
        knobs = parse_value(knobs, name, raw)
    return base, knobs


def from_headers(knobs: Knobs, headers: dict[str, str]) -> Knobs:
    for name, raw in headers.items():
        if name.startswith(HEADER_PREFIX):
            knobs = parse_value(knobs, name[len(HEADER_PREFIX):], raw)
    return knobs
