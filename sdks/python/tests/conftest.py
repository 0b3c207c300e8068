from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))


def env(name: str) -> str:
    value = os.environ.get(name)
    assert value, f"{name} must be set (sdks/test.sh sets it)"
    return value
