"""Shared schema bases: strict request bodies, list queries, pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

T = TypeVar("T")

# Money is integer fen: strict mode refuses fractions, strings and booleans (the JSON edge reads
# an integral literal such as 26.0 as the integer 26, as JSON Schema does: chalicelib/web/request.py).
FEN_DESCRIPTION = "amount in fen (1/100 CNY), an integer; a fractional amount or a string is a 400"
Fen = Annotated[int, Field(ge=0, le=10**12, description=FEN_DESCRIPTION)]
PositiveFen = Annotated[int, Field(gt=0, le=10**12, description=FEN_DESCRIPTION)]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
# Free text is checked as sent, so the limits in the OpenAPI document are the ones applied,
# and stored stripped. NOT_BLANK is one character `str.strip()` keeps, spelled so Python's
# `re`, pydantic's Rust regex and ECMA-262 (the document's dialect) read it the same way;
# `\s` differs between them (e.g. U+001E).
NOT_BLANK = r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
STRIP = AfterValidator(str.strip)
# A carrier's tracking number: 4-40 letters, digits or hyphens, not starting or ending in one.
TRACKING_NUMBER = r"^[A-Za-z0-9][A-Za-z0-9\-]{2,38}[A-Za-z0-9]$"
# What a field error says when a value does not match one of these patterns (instead of the
# pattern itself, which means nothing to a person filling in a form).
PATTERN_MESSAGES = {
    NOT_BLANK: "must not be blank",
    TRACKING_NUMBER: "4-40 letters, digits or hyphens, starting and ending with a letter or digit",
}
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), STRIP]


# Every schema is built when first used (`defer_build`), not when its module loads: a
# route's first request builds the few it validates and renders, not its router's every
# schema (a cold start: `make bench`, imports).


class Body(BaseModel):
    """A request body: unknown fields are refused, types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class View(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class ShortListQuery(BaseModel):
    """Paging of a short list (at most a few dozen items): like `PageQuery`, but without
    `limit` the whole list, as these lists answered before they took paging."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: int | None = Field(default=None, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=2048)


class Page(View, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


# A boolean switch: true in the branch it selects; false or null in the other.
TRUE: JsonDict = {"type": "boolean", "const": True}
NOT_TRUE: JsonDict = {"anyOf": [{"type": "boolean", "const": False}, {"type": "null"}]}


def example(*examples: dict[str, Any]) -> ConfigDict:
    """A request body's examples, shown in the OpenAPI document (the first one on the operation)."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


Branch = tuple[str, Mapping[str, JsonDict | None]] | tuple[str, Mapping[str, JsonDict | None], Mapping[str, JsonDict]]


def one_of(*branches: Branch, examples: list[JsonDict]) -> ConfigDict:
    """The document's form of a `model_validator` that picks one of several field sets: one
    complete object schema per branch, named by its title, holding the shared fields, its
    own required ones (`None` keeps the field's schema without its null; a dict replaces it)
    and the other branches' fields as null, unless the optional third dict says otherwise.
    A generated client then gets one typed model per branch."""
    own = {name for branch in branches for name in branch[1]}

    def split(schema: JsonDict) -> None:
        props: dict[str, Any] = dict(schema.pop("properties"))  # type: ignore[arg-type]
        required = [r for r in schema.pop("required", []) if r not in own]  # type: ignore[union-attr]
        schema.pop("additionalProperties", None)
        variants: list[JsonDict] = []
        for branch in branches:
            title, fields = branch[0], branch[1]
            allowed = branch[2] if len(branch) == 3 else {}
            branch_props: dict[str, Any] = {}
            for name, prop in props.items():
                if name in fields:
                    override = fields[name]
                    branch_props[name] = override if override is not None else _non_null(prop)
                elif name in own:
                    branch_props[name] = allowed.get(name, {"type": "null"})
                else:
                    branch_props[name] = prop
            variants.append(
                {
                    "title": title,
                    "type": "object",
                    "properties": branch_props,
                    "required": [*required, *fields],
                    "additionalProperties": False,
                }
            )
        schema["oneOf"] = variants  # type: ignore[assignment]
        schema["examples"] = examples  # type: ignore[assignment]

    return ConfigDict(json_schema_extra=split)


def _non_null(prop: Any) -> JsonDict:
    """`X | None` without its null: the branch that needs the field needs a value."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if len(options) != 1:
        return dict(prop)
    rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**options[0], **rest}
