"""Building a component's frozen config dataclass from a registry by name, with clear errors."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol

from satclip.errors import InputError


class NamedConfig(Protocol):
    """A component's config dataclass: registered under its ``name``."""

    name: ClassVar[str]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the choice closest to ``name`` (difflib, ignoring case, ``_``
    and ``-``), or "" when none is close."""

    def key(text: str) -> str:
        return text.lower().replace("_", "").replace("-", "")

    by_key = {key(c): c for c in choices}
    close = difflib.get_close_matches(key(name), list(by_key), n=1, cutoff=0.75)
    return f" (did you mean {by_key[close[0]]!r}?)" if close else ""


def build_config(
    registry: Mapping[str, tuple[type[Any], Any]], kind: str, name: str, params: dict[str, Any]
) -> Any:
    """Config dataclass ``name`` of ``registry`` from ``params``; unknown names/params raise."""
    if name not in registry:
        raise InputError(
            f"unknown {kind} {name!r}{did_you_mean(name, registry)}; choose one of: {', '.join(registry)}"
        )
    cfg_cls = registry[name][0]
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = sorted(set(params) - fields)
    if unknown:
        raise InputError(
            f"{kind} {name!r} has no parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(fields)) or '(none)'}"
        )
    missing = sorted(
        f.name
        for f in dataclasses.fields(cfg_cls)
        if f.name not in params
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise InputError(f"{kind} {name!r} needs parameter(s) {', '.join(missing)}")
    return cfg_cls(**params)


def config_to_dict(config: Any) -> dict[str, Any]:
    """{"name": ..., "params": {...}} for JSON."""
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
    return {"name": config.name, "params": params}
