"""Built-in machines: ``presets/*.toml``. ``linuxmm presets`` lists them."""

from __future__ import annotations

import tomllib
from importlib import resources

from ..errors import LinuxmmError

DEFAULT = "default"


def names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".toml"))


def text(name: str) -> str:
    path = resources.files(__package__) / f"{name}.toml"
    if not path.is_file():
        raise LinuxmmError(f"no preset named {name!r}; choose one of: {', '.join(names())}")
    return path.read_text()


def summary(name: str) -> str:
    return str(tomllib.loads(text(name)).get("description", ""))


def get(name: str):
    from ..sources.toml import loads

    return loads(text(name), f"preset:{name}")
