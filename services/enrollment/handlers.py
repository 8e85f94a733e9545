"""Enrollment's reactions to other services' events: none yet (the HRIS and HR drive it over
HTTP). New reactions go here, thin, calling the use cases, like every service's."""

from __future__ import annotations

from shared.messaging.consumer import Handler

HANDLERS: dict[str, Handler] = {}
