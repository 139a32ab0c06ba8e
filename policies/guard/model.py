"""One normalized model of a Pulumi resource graph, whatever it was read from.

Every adapter (CrossGuard arguments, `pulumi stack export`, `pulumi preview --json`, the program run under
mocks) produces `Resource`s with plain JSON-like props in which a value that is not known yet is the single
marker `UNKNOWN`. Rules never see the source format, so one rule gives one verdict on every source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

T = TypeVar("T")


class _Unknown:
    """A value the engine will only know after the update (a preview's computed value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


class Unverifiable(Exception):  # noqa: N818 (it is a verdict, not a failure)
    """A value the rule needs is unknown, so the rule can neither pass nor fail the resource yet."""

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path


_MISSING = object()


def walk(value: Any, *path: str | int, where: str = "") -> Any:
    """`value[path...]`, None when a step is missing; raises Unverifiable when a step is unknown.

    Reading through this function is what makes "no rule passes silently on an unknown" hold: a rule
    cannot look at an unknown value without being stopped.
    """
    trail = where
    for step in path:
        if value is UNKNOWN:
            raise Unverifiable(trail)
        trail = f"{trail}.{step}" if trail else str(step)
        if isinstance(value, Mapping):
            value = value.get(step, _MISSING)
        elif isinstance(value, list | tuple) and isinstance(step, int) and -len(value) <= step < len(value):
            value = value[step]
        else:
            value = _MISSING
        if value is _MISSING:
            return None
    if value is UNKNOWN:
        raise Unverifiable(trail)
    return value


class Malformed(ValueError):
    """A property holds a value no provider writes (a list for a number): the rule cannot judge it."""


def as_number(value: Any, where: str = "") -> float | None:
    """`value` as a number: None stays None, numeric strings are parsed (never compared as strings)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise Malformed(f"{where} is {value!r}, not a number")


def as_flag(value: Any) -> Any:
    """A boolean property; old states keep booleans as "true"/"false". Other values are returned unchanged."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


@dataclass(frozen=True, eq=False)
class Resource:
    urn: str
    type: str
    props: Mapping[str, Any]
    id: str | None = None
    parent: str | None = None
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    def get(self, *path: str | int) -> Any:
        return walk(self.props, *path, where=self.name)

    def number(self, *path: str | int) -> float | None:
        """A numeric property; states written by 2017-era engines keep numbers as strings ("30")."""
        return as_number(self.get(*path), f"{self.name}.{'.'.join(map(str, path))}")

    def flag(self, *path: str | int) -> Any:
        """A boolean property (True/False, "true"/"false" in old states), None when unset."""
        return as_flag(self.get(*path))

    def peek(self, *path: str | int) -> Any:
        """Like `get`, but hands back UNKNOWN instead of stopping the rule (for rules that can still decide)."""
        try:
            return self.get(*path)
        except Unverifiable:
            return UNKNOWN

    def identifiers(self) -> set[str]:
        """The strings other resources use to point at this one (id, name, ARN, URL), when known."""
        values = {self.id}
        for key in ("arn", "name", "url", "id", "bucket"):
            values.add(self.peek(key))
        return {v for v in values if isinstance(v, str) and v}


class Graph:
    """A stack's resources with the lookups rules need, indexed once so that checking stays linear."""

    def __init__(self, resources: Iterable[Resource]):
        self.resources: list[Resource] = list(resources)
        self.by_urn: dict[str, Resource] = {r.urn: r for r in self.resources}
        self._value_index: dict[tuple[frozenset[str], str], dict[str, list[Resource]]] = {}
        self._derived: dict[Callable[[Graph], Any], Any] = {}

    def __len__(self) -> int:
        return len(self.resources)

    @cached_property
    def _by_type(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = {}
        for r in self.resources:
            index.setdefault(r.type, []).append(r)
        return index

    @cached_property
    def _by_identifier(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = {}
        for r in self.resources:
            for ident in r.identifiers():
                index.setdefault(ident, []).append(r)
        return index

    @cached_property
    def _dependents(self) -> dict[tuple[str, str], list[Resource]]:
        """(urn, property) -> the resources whose `property` was computed from that urn."""
        index: dict[tuple[str, str], list[Resource]] = {}
        for r in self.resources:
            for prop, urns in r.property_dependencies.items():
                for urn in urns:
                    index.setdefault((urn, prop), []).append(r)
        return index

    def of_type(self, *types: str) -> Iterator[Resource]:
        for t in types:
            yield from self._by_type.get(t, ())

    def referenced(self, resource: Resource, prop: str, types: Iterable[str]) -> list[Resource]:
        """The resources of `types` that `resource.props[prop]` points at.

        Property dependencies are known even in a first preview, so they come first; a known value that
        names a resource (id, ARN, name, URL) is the fallback for states that lost them.
        """
        wanted = set(types)
        found = [
            self.by_urn[u]
            for u in resource.property_dependencies.get(prop, ())
            if u in self.by_urn and self.by_urn[u].type in wanted
        ]
        if found:
            return found
        value = resource.peek(prop)
        values = value if isinstance(value, list) else [value]
        return [
            r
            for v in values
            if isinstance(v, str)
            for r in self._by_identifier.get(v, ())
            if r.type in wanted and r is not resource
        ]

    def referencing(self, target: Resource, prop: str, types: Iterable[str]) -> list[Resource]:
        """The resources of `types` whose `prop` points at `target` (the reverse of `referenced`)."""
        wanted = frozenset(types)
        found = [r for r in self._dependents.get((target.urn, prop), ()) if r.type in wanted]
        for ident in target.identifiers():
            found.extend(r for r in self.with_value(wanted, prop, ident) if r not in found)
        return found

    def with_value(self, types: Iterable[str], prop: str, value: Any) -> list[Resource]:
        """The resources of `types` whose known `prop` equals `value` (an index built once per query shape)."""
        key = (frozenset(types), prop)
        if key not in self._value_index:
            index: dict[str, list[Resource]] = {}
            for r in self.of_type(*key[0]):
                known = r.peek(prop)
                if isinstance(known, str):
                    index.setdefault(known, []).append(r)
            self._value_index[key] = index
        return self._value_index[key].get(value, []) if isinstance(value, str) else []

    def derived(self, compute: Callable[[Graph], T]) -> T:
        """A whole-graph fact a rule needs for every subject (e.g. which queues are dead-letter queues),
        computed once per graph so that checking stays linear."""
        if compute not in self._derived:
            self._derived[compute] = compute(self)
        return self._derived[compute]
