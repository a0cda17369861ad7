"""Every scheduled job, registered by name in `chalicelib.jobs`."""

from __future__ import annotations
