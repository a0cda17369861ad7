"""Shared schema bases: strict request bodies, list queries, pages."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

# Money is integer fen: strict mode refuses floats, strings and booleans.
Fen = Annotated[int, Field(ge=0, le=10**12, description="amount in fen (1/100 CNY), an integer")]
PositiveFen = Annotated[int, Field(gt=0, le=10**12, description="amount in fen (1/100 CNY), an integer")]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
# Free text is checked as sent, so the limits in the OpenAPI document are the ones applied,
# and stored stripped. NOT_BLANK is one character `str.strip()` keeps, spelled so Python's
# `re`, pydantic's Rust regex and ECMA-262 (the document's dialect) read it the same way;
# `\s` differs between them (e.g. U+001E).
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
STRIP = AfterValidator(str.strip)
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), STRIP]


class Body(BaseModel):
    """A request body: unknown fields are refused, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class Page(View, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
