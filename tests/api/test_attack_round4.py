"""The outside tester's fourth round, against the third release's fixes (installments, risk
decisions, merchant webhooks): each test is a defect found by an attack, failing before its fix."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.services.webhooks import addresses

DEPLOYED = addresses.Policy(local=False)


@pytest.mark.parametrize("url", ["https://[fec0::1]/h", "https://[feff:ffff::1]/h"])
def test_a_site_local_ipv6_address_is_not_a_public_webhook_host(url: str) -> None:
    """`fec0::/10` is IPv6's site-local (private-scope) range: deprecated, but still routed
    only inside a site. A merchant's endpoint `https://[fec0::1]/` was accepted when saved and
    sent to at delivery as a public host: a request into the platform's own network."""
    with pytest.raises(errors.DomainError) as refused:
        addresses.check_literal(url, DEPLOYED)
    assert refused.value.code == "webhook_url_refused"
    assert not addresses.allowed_address(url.split("[")[1].split("]")[0], DEPLOYED)
