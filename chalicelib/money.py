"""Money is integer fen (分): 1 yuan (元) = 100 fen, never a float, in every book and body."""

from __future__ import annotations

from typing import TypeAlias

Fen: TypeAlias = int  # an amount of money in fen


def yuan(amount: Fen) -> str:
    """1234 fen -> "12.34": two decimals, as channels and people read an amount."""
    return f"{amount // 100}.{amount % 100:02d}"


def price(amount: Fen) -> str:
    """1234 fen -> "¥12.34": an amount as a message to a person shows it."""
    return f"¥{yuan(amount)}"
