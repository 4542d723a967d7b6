"""The schema sampler's instances validate against their schemas (checked by jsonschema)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import jsonschema
import pytest
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
    jsonschema.validate(sample(schema, ["Paris", "France"]), schema)


def test_strings_come_from_the_given_words() -> None:
    schema = SCHEMAS[0]
    assert sample(schema, ["Paris"]) == {"city": "Paris"}
    assert sample(schema) == {"city": "city"}
