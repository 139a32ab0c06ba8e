from __future__ import annotations

import pytest

from policies.guard.model import Graph
from tests.policies.policy_builders import reference_graph


@pytest.fixture
def reference() -> Graph:
    return reference_graph()
