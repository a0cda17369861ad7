"""A short schemathesis run against the local stack (the long one is `make fuzz`).

The stack runs in a subprocess on free ports; see `scripts/fuzz.py` for what is checked
and what is left out (and why). Every operation gets its examples and a few generated
cases, valid and invalid, under every check. The coverage phase (each operation's boundary
and invalid values, enumerated: about 3,900 cases and two thirds of the run) is `make fuzz`'s
alone; in `make test`, tests/contract/test_schema_agreement.py holds the document and the
validators to the same agreement in process.
"""

from __future__ import annotations

import pytest

from scripts.fuzz import fuzz

# A fixed seed keeps CI reproducible; `make fuzz` draws a new one every run.
SEED = 20261125


@pytest.mark.fuzz
def test_the_served_openapi_document_holds_under_a_short_fuzz() -> None:
    result = fuzz(max_examples=5, seed=SEED, phases="examples,fuzzing")
    tail = result.stdout[-12000:] + result.stderr[-3000:]
    assert result.returncode == 0, tail
    assert "No issues found" in result.stdout, tail
    assert "Tested: 0" not in result.stdout, tail
