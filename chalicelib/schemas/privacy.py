"""PIPL: the data export and account closure."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from .common import Page, PageQuery, View


class ExportQuery(View):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=4096)


class DataExportView(View):
    """One page of everything held about the caller, by section (the profile comes first).

    The full ID and card numbers are never held, so never here: masked forms and last four
    digits are. Follow `next_cursor` until it is null for the rest, or page one section alone
    with `GET /v1/me/data-export/{section}` (`section` is a key of `sections`).
    """

    user_id: str
    generated_at: str
    sections: dict[str, list[dict[str, Any]]]
    next_cursor: str | None = None


class ExportSectionQuery(PageQuery):
    pass


class ExportSectionPage(Page[dict[str, Any]]):
    """One page of one export section (the items as in `DataExportView.sections`)."""

    section: str


class ClosureView(View):
    user_id: str
    closed_at: str
    retention_until: str  # when the kept orders and wallet entries are deleted
    erased: list[str]
