"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations

from . import checkout  # noqa: F401  (expire_checkouts)
