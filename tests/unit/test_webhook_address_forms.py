"""SSRF: the other spellings of an inside address are refused when an endpoint is saved,
and at send time by the decision itself, whatever a resolver answers (an independent
tester's findings on the third release)."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.services.webhooks import addresses

DEPLOYED = addresses.Policy(local=False)


def public(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/x",  # decimal 127.0.0.1
        "https://017700000001/x",  # octal
        "https://0x7f000001/x",  # hex
        "https://0x7f.1/x",  # hex, short form
        "https://127.1/x",  # short form
        "https://0/x",  # 0.0.0.0
        "https://0177.0.0.1/x",  # octal first octet
        "https://10.1/x",  # 10.0.0.1
        "https://127.0.0.1./x",  # trailing dot
        "https://localhost./x",
        "https://metadata.google.internal./x",
        "https://[2002:7f00:1::]/x",  # 6to4 of 127.0.0.1
        "https://[2002:a9fe:a9fe::1]/x",  # 6to4 of 169.254.169.254 (instance metadata)
        "https://１２７.０.０.１/x",  # full-width digits: the resolver folds them (IDNA)
        "https://127。0。0。1/x",  # ideographic full stops are dots to IDNA
        "https://ｌｏｃａｌｈｏｓｔ/x",
    ],
)
def test_legacy_ipv4_forms_and_trailing_dots_are_refused(url: str) -> None:
    with pytest.raises(errors.Unprocessable):
        addresses.check_literal(url, DEPLOYED)
    with pytest.raises(errors.Unprocessable):
        addresses.resolve(url, DEPLOYED, public)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/x", "https://1.1.1.1/x", "https://deadbeef.example/x", "https://商店.中国/x"]
)
def test_public_hosts_still_pass(url: str) -> None:
    addresses.check_literal(url, DEPLOYED)
    assert addresses.resolve(url, DEPLOYED, public).address in ("93.184.215.14", "1.1.1.1")


def test_a_name_resolving_to_a_6to4_address_of_an_inside_one_is_refused() -> None:
    with pytest.raises(errors.Unprocessable):
        addresses.resolve("https://hooks.example.com/x", DEPLOYED, lambda host, port: ["2002:a00:1::"])
    assert addresses.resolve("https://h.example.com/x", DEPLOYED, lambda h, p: ["2002:5db8:d70e::"]).address
