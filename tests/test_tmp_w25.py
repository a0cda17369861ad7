from tests.conftest import Api
from tests.model_based import MoneyMachine
from tests.test_model_based import _run


def test_reach(api: Api) -> None:
    MoneyMachine.reached.clear()
    _run(api, 4, 30)
    print("REACHED", {k: v for k, v in MoneyMachine.reached.items() if "risk" in k or "confirm" in k})
