"""cache_key's encoder built once writes the text json.JSONEncoder.encode writes (patchwire.cachekey)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from patchwire import cachekey

leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()  # NaN and the infinities included: json writes them, so must the key
    | st.text(max_size=8)  # non-ASCII and control characters escaped the same way
)
trees = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=6), trees, max_size=6), model=st.text(max_size=5))
def test_the_key_is_the_sha256_of_the_standard_encoders_text(
    payload: dict[str, Any], model: str
) -> None:
    material = [cachekey._SCHEME, "c", model, "complete", cachekey._canonical(payload)]
    written = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert cachekey.cache_key("c", model, "complete", payload) == (
        hashlib.sha256(written.encode("ascii")).hexdigest()
    )
