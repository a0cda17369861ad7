"""A dispute's id names its request and its order (support reads the three in one call);
an id that cannot (an order id too long for a path parameter) is a random one, which names
nothing, like the ids made before."""

from __future__ import annotations

from chalicelib.services.aftersale.disputes import dispute_id_for, ids_in

REQUEST = "ret_0123456789abcdef0123"


def test_a_dispute_id_names_its_order_and_request() -> None:
    dispute_id = dispute_id_for("o_fc147eb121924079bfbe", REQUEST)
    assert dispute_id == f"dsp_{REQUEST}_o_fc147eb121924079bfbe" and len(dispute_id) <= 64
    assert ids_in(dispute_id) == ("o_fc147eb121924079bfbe", REQUEST)


def test_an_id_that_cannot_name_them_is_random_and_names_nothing() -> None:
    long_order = "o_" + "x" * 40
    dispute_id = dispute_id_for(long_order, REQUEST)
    assert dispute_id.startswith("dsp_") and len(dispute_id) == 24 and ids_in(dispute_id) is None
    for older in ("dsp_0123456789abcdef0123", "dsp_missing", f"dsp_{REQUEST}", f"dsp_{REQUEST}-o_1", ""):
        assert ids_in(older) is None, older
