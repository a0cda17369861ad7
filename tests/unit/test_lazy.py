"""`lazy.collector_paused`: the garbage collector is off inside (nested or not) and back as it was,
what was loaded meanwhile frozen."""

from __future__ import annotations

import gc

from chalicelib import lazy


def test_the_collector_is_off_inside_and_back_on_after_the_outermost_with_what_it_loaded_frozen() -> None:
    assert gc.isenabled()
    with lazy.collector_paused():
        assert not gc.isenabled()
        with lazy.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer first use is still loading
        loaded = [[i] for i in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(loaded)  # no collection walks them again


def test_the_collector_stays_off_when_it_was_off_before() -> None:
    gc.disable()
    try:
        with lazy.collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_comes_back_when_the_first_use_fails() -> None:
    try:
        with lazy.collector_paused():
            raise LookupError
    except LookupError:
        pass
    assert gc.isenabled()
