"""The example controller's modules sit beside each other in examples/controller/, as a script's do: import them
by putting that folder on ``sys.path`` (once, for this folder's tests)."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "controller"

if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
