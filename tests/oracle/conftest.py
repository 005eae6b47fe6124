"""The FINN-oracle tests need finn-plus. Without it they FAIL, naming the install command, unless the
opt-out variable is set (then they are skipped, visibly, with the same message)."""

from __future__ import annotations

import pytest

from tests.oracle.finn_flow import OPT_OUT, FinnUnavailable, opted_out, require_finn


@pytest.fixture(scope="session", autouse=True)
def finn_plus():
    try:
        return require_finn()
    except FinnUnavailable as err:
        if opted_out():
            pytest.skip(f"{OPT_OUT} is set: {err}")
        pytest.fail(str(err), pytrace=False)
