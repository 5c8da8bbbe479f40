"""The rule kinds, one module each: how a kind's rules match and rewrite, written once.

Every kind is a small class driven by :class:`cuda2npu.migrator.Migrator`, which calls its
``visit_*``/``leave_*`` methods during the one LibCST pass and gives it the shared state
(``kind.m``): the rule index, the file's import bindings and the recording of sites.
The ``import`` and ``text`` kinds act outside that pass (:mod:`cuda2npu.engine`,
:mod:`cuda2npu.textfiles`), the ``context`` kind before it (:mod:`cuda2npu.context`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..migrator import Migrator


class Kind:
    """One rule kind's part of the pass."""

    def __init__(self, migrator: "Migrator"):
        self.m = migrator


class _Kept(dict):
    def __missing__(self, key: str) -> str:  # a release fact of a book not made for one release
        return "{%s}" % key


def fill(template: str, **values: str) -> str:
    """A rule's message template with its placeholders filled in (any other left as written)."""
    return template.format_map(_Kept(values)) if template else ""
