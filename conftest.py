"""Settings for every test in the repository (tests/, core/tests, plugins/*, contrib/*).

Hypothesis is derandomized (its examples come from a fixed seed, so a run is repeatable and
a red run reproduces), and the per-example deadline and the too-slow health check are off:
both measure wall-clock time, so a loaded machine (CI running beside another test run) would
fail a property that holds. Properties still state invariants; speed is a benchmark's job.

Every test starts with the random module seeded from its own id, so a Hub made without a seed
(its retry jitter is drawn from `random`) draws the same schedule every run.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "patchwire",
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("patchwire")

# The plugin template is tested the way an author uses it, copied out and installed in a
# fresh venv (tests/conformance/test_template_outside.py), not from this workspace's venv.
collect_ignore = ["contrib/template"]


@pytest.fixture(autouse=True)
def _seeded_random(request: pytest.FixtureRequest) -> None:
    random.seed(request.node.nodeid)
