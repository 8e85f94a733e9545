"""The five Binôme services. Each owns its data and talks to the others through events."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runtime comes with the service modules, not with this package
    from shared.service import ServiceDef

SERVICE_NAMES = ("enrollment", "matching", "sessions", "feedback", "reporting")


def load(name: str) -> ServiceDef:
    if name not in SERVICE_NAMES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICE_NAMES)}")
    return importlib.import_module(f"services.{name}.service").definition


def load_all() -> list[ServiceDef]:
    return [load(n) for n in SERVICE_NAMES]
