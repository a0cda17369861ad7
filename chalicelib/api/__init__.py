"""HTTP routes, one router per part of the story; `app.py` mounts them."""

from __future__ import annotations

from .document import all_routers

__all__ = ["all_routers"]
