"""The `faults` fixture: the store's faults (a lost answer, a throttle) armed by a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.model_based import Faults


@pytest.fixture
def faults() -> Iterator[Faults]:
    f = Faults(span=0)
    f.install()
    try:
        yield f
    finally:
        f.remove()
