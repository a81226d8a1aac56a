"""The base of every chapter's config: a frozen dataclass that checks itself.

A chapter declares its fields with the papers' defaults and names, which of
them must be whole numbers of at least one, positive finite numbers, or one of
a few choices; every config is checked the same way when it is made, so a bad
setting fails at once with one sentence naming the field, never deep inside a
training run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, ClassVar, TypeVar

from ganbook.core.settings import get_scale

C = TypeVar("C", bound="Config")


@dataclass(frozen=True)
class Config:
    """Fields are declared by subclasses; the class variables say what is valid."""

    #: Fields that must be whole numbers, at least 1.
    counts: ClassVar[tuple[str, ...]] = ()
    #: Fields that must be whole numbers, at least 0.
    naturals: ClassVar[tuple[str, ...]] = ()
    #: Fields that must be finite numbers above 0.
    positive: ClassVar[tuple[str, ...]] = ()
    #: Fields that must take one of the listed values.
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __post_init__(self) -> None:
        self.validate()

    def validate(self: C) -> C:
        """Return self, or raise ValueError naming the first bad setting."""
        for name in self.counts:
            _whole(name, getattr(self, name), 1)
        for name in self.naturals:
            _whole(name, getattr(self, name), 0)
        for name in self.positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number above 0, got {value!r}")
        for name, allowed in self.choices.items():
            value = getattr(self, name)
            if value not in allowed:
                options = ", ".join(repr(a) for a in allowed)
                raise ValueError(f"{name} must be one of {options}, got {value!r}")
        self.check()
        return self

    def check(self) -> None:
        """Checks that involve several fields; a subclass overrides it."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict (what a checkpoint stores)."""
        return asdict(self)


def _whole(name: str, value: Any, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")


def scaled(
    cls: type[C], settings: dict[str, dict[str, Any]], scale: str | None, **overrides: Any
) -> C:
    """``cls`` with the fields of ``settings[scale]``, then ``overrides``, checked."""
    unknown = set(overrides) - set(cls.__dataclass_fields__)
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
    return replace(cls(**settings[get_scale(scale)]), **overrides)
