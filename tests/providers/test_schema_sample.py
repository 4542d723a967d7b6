"""The schema sampler's instances validate against their schemas (checked by jsonschema)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from chorus.providers.schema_sample import sample


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: str = Field(min_length=5, max_length=5)


class Person(BaseModel):
    name: str
    age: int = Field(ge=18, le=130)
    email: str | None = None
    favourite: Color
    home: Address
    others: list[Address] = Field(min_length=2)
    kind: Literal["human"]
    score: float = Field(gt=0, lt=1)


class Tree(BaseModel):
    label: str
    children: list[Tree]


SCHEMAS: list[dict[str, Any]] = [
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
     "additionalProperties": False},
    {"type": "object", "properties": {
        "when": {"type": "string", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "mail": {"type": "string", "format": "email"},
        "link": {"type": "string", "format": "uri"},
        "n": {"type": "integer", "minimum": 3, "maximum": 9, "multipleOf": 3},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3,
                 "uniqueItems": True},
        "maybe": {"type": ["string", "null"]},
        "either": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        "any": {"anyOf": [{"type": "null"}, {"type": "number", "minimum": 5}]},
        "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}},
                            "required": ["a"]},
                           {"properties": {"b": {"const": 2}}, "required": ["b"]}]},
        "flag": {"type": "boolean"}, "nothing": {"type": "null"},
        "short": {"type": "string", "maxLength": 2},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
    }, "required": ["when", "n", "tags", "both"]},
    Person.model_json_schema(),
    Tree.model_json_schema(),
    {"type": "array", "items": {"$ref": "#/$defs/p"}, "$defs": {"p": {"type": "string",
                                                                         "enum": ["x", "y"]}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_samples_validate_against_their_schema(schema: dict[str, Any]) -> None:
    for variant in range(6):
        jsonschema.validate(sample(schema, ["Paris", "France"], variant), schema)


def test_variants_differ_in_enums_booleans_and_numbers() -> None:
    schema = {"type": "object", "properties": {
        "c": {"enum": ["red", "blue"]}, "ok": {"type": "boolean"},
        "n": {"type": "integer", "minimum": 0, "maximum": 8}, "x": {"type": "number"}}}
    assert sample(schema) == {"c": "red", "ok": True, "n": 4, "x": 1.0}
    assert sample(schema, variant=1) == {"c": "blue", "ok": False, "n": 2, "x": 2.0}


def test_strings_come_from_the_given_words() -> None:
    schema = SCHEMAS[0]
    assert sample(schema, ["Paris"]) == {"city": "Paris"}
    assert sample(schema) == {"city": "city"}


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    bounded = st.tuples(st.integers(-50, 50), st.integers(0, 50)).map(
        lambda lo_span: {"minimum": lo_span[0], "maximum": lo_span[0] + lo_span[1]})
    lengths = st.tuples(st.integers(0, 8), st.integers(0, 8)).map(
        lambda lo_span: {"minLength": lo_span[0], "maxLength": lo_span[0] + lo_span[1]})
    return st.one_of(
        st.just({"type": "string"}),
        lengths.map(lambda b: {"type": "string", **b}),
        st.sampled_from(["date", "date-time", "email", "uri", "uuid"]).map(
            lambda f: {"type": "string", "format": f}),
        st.lists(st.text(max_size=5), min_size=1, max_size=3).map(lambda e: {"enum": e}),
        bounded.map(lambda b: {"type": "integer", **b}),
        bounded.map(lambda b: {"type": "number", **b}),
        st.just({"type": "boolean"}), st.just({"type": "null"}),
        st.just({"type": ["string", "null"]}), st.integers().map(lambda v: {"const": v}))


def _composite(inner: st.SearchStrategy[dict[str, Any]]
               ) -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(["a", "b", "city", "when", "tags"])
    objects = st.dictionaries(names, inner, max_size=4).flatmap(
        lambda props: st.sets(st.sampled_from(sorted(props) or ["a"])).map(
            lambda req: {"type": "object", "properties": props,
                         "required": sorted(r for r in req if r in props),
                         "additionalProperties": False}))
    arrays = st.tuples(inner, st.integers(0, 3), st.integers(0, 3)).map(
        lambda t: {"type": "array", "items": t[0], "minItems": t[1], "maxItems": t[1] + t[2]})
    unions = st.lists(inner, min_size=1, max_size=3).map(lambda options: {"anyOf": options})
    return st.one_of(objects, arrays, unions)


SCHEMA_STRATEGY = st.recursive(_leaf(), _composite, max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(SCHEMA_STRATEGY, st.lists(st.sampled_from(["Paris", "Ada", "x"]), max_size=3),
       st.integers(0, 1000))
def test_any_generated_schema_is_satisfied(schema: dict[str, Any], words: list[str],
                                           variant: int) -> None:
    jsonschema.validate(sample(schema, words, variant), schema)
