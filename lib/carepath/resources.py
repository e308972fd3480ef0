"""Where the project's data folders are: ``schemas/`` and ``pathways/``.

Both are found beside the source tree; ``CAREPATH_SCHEMAS_DIR`` and ``CAREPATH_PATHWAYS_DIR`` override
them (a container image that copies them elsewhere sets these).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def schemas_dir() -> Path:
    return Path(os.environ.get("CAREPATH_SCHEMAS_DIR", ROOT / "schemas"))


def pathways_dir() -> Path:
    return Path(os.environ.get("CAREPATH_PATHWAYS_DIR", ROOT / "pathways"))
