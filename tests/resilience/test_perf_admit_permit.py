"""A permit admitted on arrival is built by storing its slots (issue 19: one per
admission, where the type call into Permit.__init__ cost more than the stores). It must
be the permit Permit(...) builds, and release its slot as one does."""

from __future__ import annotations

import pytest
from patchwire.clock import VirtualClock
from patchwire.limiter import Limiter, Permit
from patchwire.limiter.limits import LimitsConfig


def _slots(permit: Permit) -> dict[str, object]:
    return {name: getattr(permit, name) for name in Permit.__slots__}


@pytest.mark.parametrize("concurrency", [None, 2])
def test_an_admitted_permit_is_the_built_one(concurrency: int | None) -> None:
    config = LimitsConfig(requests_per_second=100.0, max_concurrency=concurrency)
    limiter = Limiter("k", config, VirtualClock())
    permit = limiter.admit(0, None)
    assert type(permit) is Permit
    assert _slots(permit) == _slots(Permit(limiter, 0, concurrency is not None))
    assert limiter._in_use == (1 if concurrency else 0)
    permit.release()
    permit.release()  # a second release does nothing
    assert limiter._in_use == 0
