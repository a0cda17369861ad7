"""Order messages."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from ..models.messages import MAX_TEXT
from .common import NOT_BLANK, STRIP, Body, View, example


class MessageIn(Body):
    model_config = example({"text": "请问什么时候发货？"})

    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT, pattern=NOT_BLANK), STRIP]


class MessageView(View):
    message_id: str
    order_id: str
    author: str = Field(description="consumer | merchant")
    text: str = Field(description="exactly as sent; render it as text")
    created_at: str


class MessageList(View):
    items: list[MessageView]
    next_cursor: str | None = None
