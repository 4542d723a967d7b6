"""`record`: the decorator of Chorus's value types, frozen to the type checker.

A record is a dataclass with slots, equality and a hash from its fields, which mypy (strict, run
on every commit by `./dev lint`) treats as frozen: assigning to a field is a type error. At run
time it is not frozen: a frozen dataclass's `__init__` sets each field through
`object.__setattr__`, about 1,150 instructions a field against 40 for an ordinary assignment,
and a chat completion built 151 fields that way, 11 % of its instructions (bench/notes.md).
`dataclasses.replace` makes a changed copy, as for any dataclass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def record(cls: type[T], /) -> type[T]: ...


@overload
def record(*, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: Any = None, /, *, kw_only: bool = False) -> Any:
    def make(target: Any) -> Any:
        return dataclass(slots=True, unsafe_hash=True, kw_only=kw_only)(target)
    return make if cls is None else make(cls)


def field_names(cls: type[Any]) -> tuple[str, ...]:
    """A record's fields, in order: the store's rows name their columns so."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def as_values(row: Any) -> dict[str, Any]:
    """A record's fields by name (not copied, unlike `dataclasses.asdict`): a row's columns."""
    return {name: getattr(row, name) for name in field_names(type(row))}


_NAMES: dict[type[Any], tuple[str, ...]] = {}
