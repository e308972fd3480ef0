"""The value sets both channels read codes through (``pathways/mscc/terminology`` plus a site overlay).

Loaded once per process: the HL7 and FHIR code maps are built over the same :class:`Terminology`, so a
code means the same thing whichever way it arrives.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from carepath import terminology
from carepath.resources import pathways_dir

PRODUCT = "mscc/terminology"


class ValueSetError(ValueError):
    """The value sets or a site overlay are wrong; the message names file, line and key."""


def load(site_files: Sequence[Path] = ()) -> terminology.Terminology:
    """The product value sets with the site's overlays (cached per files and their modification times)."""
    stamps = tuple((str(p), p.stat().st_mtime_ns if p.exists() else -1) for p in site_files)
    return _load(stamps)


@functools.lru_cache(maxsize=8)
def _load(stamps: tuple[tuple[str, int], ...]) -> terminology.Terminology:
    try:
        return terminology.load(pathways_dir() / PRODUCT, [Path(p) for p, _ in stamps])
    except terminology.TerminologyError as exc:
        raise ValueSetError(str(exc)) from None
