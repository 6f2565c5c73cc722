"""Typed settings from the validated config: each config section as a frozen dataclass."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar

Section = TypeVar("Section")


def from_section(cls: type[Section], values: Mapping[str, Any]) -> Section:
    """``cls`` (a frozen dataclass) from a validated config section: a field that is itself a
    dataclass is built from its sub-section, a list becomes a tuple (frozen all the way down).
    Keys the dataclass does not name are left out: a stage's settings take what it reads."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        value = values[field.name]
        hint = hints[field.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            value = from_section(hint, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)


class SectionSettings:
    """A frozen dataclass of one config section: ``from_config`` builds it from that section."""

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        return from_section(cls, section)
