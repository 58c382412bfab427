"""A call with every option at its default shares one frozen CallOptions (issue 19: no
checks and no attrs instance per call), without changing what the options say."""

from __future__ import annotations

import pytest
from patchwire.arguments import InvalidArgument
from patchwire.model import _options
from patchwire.principals.principal import Principal, acting_for
from patchwire.types import CallOptions


def test_default_options_are_one_shared_instance_equal_to_a_new_one() -> None:
    first = _options(0, None, None, None)
    assert first is _options(0, None, None, None, None, None)
    assert first == CallOptions()


def test_the_acting_principal_still_rides_on_default_options() -> None:
    alice = Principal("alice")
    with acting_for(alice):
        options = _options(0, None, None, None)
    assert options == CallOptions(principal=alice)
    assert _options(0, None, None, None).principal is None


@pytest.mark.parametrize("priority", [False, 0.0])
def test_a_zero_that_is_not_an_int_is_still_refused(priority: object) -> None:
    with pytest.raises(InvalidArgument, match="priority must be an integer"):
        _options(priority, None, None, None)  # type: ignore[arg-type]
