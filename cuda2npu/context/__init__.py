"""The judgement phase: decide from a file's context which rewrites keep the program right.

Rules of kind ``context`` name a ``check`` (an analysis written once, in a module of this package)
and carry its data and messages. Before the rewrite pass, :func:`judge` runs every check on the
file's ``ast`` and returns a :class:`Judgement`: *vetoes* (edits not to make, with the finding
that says why) and *notes* (findings of their own). The engine applies them to the sites the
rule kinds found, so a vetoed rewrite is reported instead of made.
"""
