"""Names torch_npu is known to have, for the ``known`` field of string and text rules.

A family rule (``TORCH_NCCL_*`` -> ``TORCH_HCCL_*``) makes its rename only where the new name is
in the list it names, and reports the original otherwise. The lists are ``data/known.json``,
read from the newest torch_npu wheel by ``scripts/sync_known.py``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "known.json"
LISTS = ("environment",)  # the lists a rule's ``known`` may name


@lru_cache(maxsize=None)
def names(which: str) -> frozenset[str]:
    """The names of list ``which`` (one of :data:`LISTS`)."""
    return frozenset(json.loads(_DATA.read_text(encoding="utf-8"))[which])

