"""The text prefilter: a file containing no rule's trigger word is never parsed."""

from __future__ import annotations

import re

from .rulebook import Rule, RuleBook

_WORD_BYTES = bytes(c if chr(c).isascii() and (chr(c).isalnum() or c == 95) else 32 for c in range(256))
_CHUNK = 1 << 20  # the words of at most about this many bytes are listed at once


def triggers(rule: Rule, *, dependent: bool = False) -> set[str]:
    """Words one of which any code the rule acts on contains: its ``trigger``, else a part of ``match``.

    Every part of a dotted name is spelled somewhere in a file that uses it (in an import or an
    attribute chain), so the last part of ``match`` will do; string rules match their whole value.
    Import rules and rules that ``require`` others act only alongside other edits, text rules
    on other files, and support rules only once expanded into reports: they have none, unless
    ``dependent`` asks for the words of rules that ``require`` others too (to find every statement
    a rule may act on, once a file is being parsed). Reports that act only where a file spells
    every part of a name (``spelled``) have words for whole files alone, and none with
    ``parsed_only``: :meth:`RuleIndex.site_patterns` finds their statements. With ``dependent``,
    an ``idempotent`` rename has the words of its new names too (the call next to a site that the
    rename would repeat must be parsed).
    """
    spelled = rule.get("spelled") and (dependent or rule.get("parsed_only"))
    if rule.kind in ("import", "text", "support") or spelled or (rule.get("requires") and not dependent):
        return set()  # they act only alongside other rules' edits, or on other files
    if rule.kind == "attribute" and rule.get("results_of") and dependent:  # the statements reading them
        return set(rule.matches())
    if rule.get("trigger") or rule.kind == "context":  # a context rule acts only alongside others, or
        return set(rule.get("trigger") or ())          # on the words of its own trigger
    if rule.kind in ("string", "attribute"):
        return set(rule.matches())
    match = rule.get("match")
    words = {name.split(".")[-1] for name in (match if isinstance(match, list) else [match])}
    if dependent and rule.get("idempotent"):  # the statements next to a site that it may repeat
        words |= {new.split(".")[-1] for _, new in rule.pairs() if new}
    return words


def trigger_words(book: RuleBook, *, dependent: bool = False) -> tuple[set[str], set[str]]:
    """The trigger words of the book's rules (``NAME_*``: a family), and those of them matched in
    any case (string rules with ``ignore_case``), lowered."""
    words = {w for rule in book for w in triggers(rule, dependent=dependent)}
    folded = {w.lower() for rule in book if rule.kind == "string" and rule.get("ignore_case")
              for w in triggers(rule, dependent=dependent)}
    return words, folded


def trigger_pattern(book: RuleBook, *, dependent: bool = False) -> re.Pattern[str] | None:
    """One regular expression finding any trigger word of the book as a whole word (None: no
    rules); the words of string rules with ``ignore_case`` in any case."""
    return _pattern(*trigger_words(book, dependent=dependent))


def few_words_pattern(book: RuleBook) -> "Bounded | None":
    """:func:`trigger_pattern` as a :class:`Bounded` pattern, for a book of a few words."""
    inner = _pattern(*trigger_words(book), leading="")
    return Bounded(inner) if inner is not None else None


def _pattern(words: set[str], folded: set[str], leading: str = r"\b") -> re.Pattern[str] | None:
    families = sorted(w[:-1] for w in words if w.endswith("*"))  # string families: NAME_ and more
    words = words - {w + "*" for w in families}
    if not words and not families and not folded:
        return None
    alternation = "|".join(([_trie(sorted(words))] if words else []) + ["(?i:%s)" % _trie(sorted(folded))] * bool(folded)
                           + ["(?:%s)\\w+" % _trie(families)] * bool(families))
    return re.compile(r"%s(?:%s)\b" % (leading, alternation))


class Bounded:
    """A pattern of whole words whose word boundary in front is checked on each match instead of
    written into it: ``re`` scans for a pattern that starts with a literal or one of a few letters
    many times faster than for one that starts with an assertion. Finds what the pattern with the
    boundary finds (a match that lacks it is tried again one character on)."""

    def __init__(self, inner: re.Pattern[str]):
        self.inner = inner
        self.pattern = inner.pattern

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        while True:
            match = self.inner.search(text, pos)
            if match is None or match.start() == 0 or not _word_char(text[match.start() - 1]):
                return match
            pos = match.start() + 1

    def finditer(self, text: str):
        match = self.search(text)
        while match is not None:
            yield match
            match = self.search(text, match.end())


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"  # what \w matches in a str pattern


class TriggerWords:
    """Trigger words as a set, against the words of a file (runs of ASCII letters, digits and
    ``_``, the word characters of a bytes pattern): much faster than the alternation of them all.
    Words a set cannot hold (families such as ``NCCL_*``, words spelled with ``-``, words of any
    case) are looked for as substrings."""

    def __init__(self, words: set[str], folded: set[str]):
        self.plain = {w.encode(): w for w in words if w.encode().translate(_WORD_BYTES) == w.encode()}
        self.rare = sorted(w for w in words if w.encode() not in self.plain)  # NCCL_*, max-autotune
        self.folded = sorted(folded)
        self._rare_bytes = [w.rstrip("*").encode() for w in self.rare]
        self._folded_bytes = [w.encode() for w in self.folded]
        self._patterns: dict[tuple[frozenset[str], frozenset[str]], Bounded | None] = {}

    def in_bytes(self, data: bytes, pattern: re.Pattern[bytes]) -> bool:
        """The prefilter on the bytes of a UTF-8 file (``pattern``: the words' pattern on bytes),
        about twice as fast as the pattern alone and finding exactly the files it finds: it
        searches only a file holding one of the words the set cannot hold."""
        if any(not self.plain.keys().isdisjoint(words) for words in _chunks(data.translate(_WORD_BYTES))):
            return True
        if any(w in data for w in self._rare_bytes) or (self.folded and any(w in data.lower() for w in self._folded_bytes)):
            return pattern.search(data) is not None
        return False

    def pattern(self, text: str, words: set[bytes], extra: frozenset[str] = frozenset()) -> Bounded | None:
        """A :class:`Bounded` pattern of the words ``text`` may hold (``words``: its words,
        :func:`byte_words`), and of ``extra``: a file holds one or two of a book's hundred words,
        and their pattern scans it far faster than the whole alternation."""
        present = frozenset({self.plain[w] for w in self.plain.keys() & words}
                            | {w for w in self.rare if w.rstrip("*") in text} | extra)
        lowered = text.lower() if self.folded else ""
        folded = frozenset(w for w in self.folded if w in lowered)
        key = (present, folded)
        if key not in self._patterns:
            if len(self._patterns) >= 64:  # bounded: one pattern per set of words a file holds
                self._patterns.clear()
            inner = _pattern(set(present), set(folded), leading="")
            self._patterns[key] = Bounded(inner) if inner is not None else None
        return self._patterns[key]


def byte_words(text: str | bytes) -> set[bytes]:
    """The words of a text: the runs of ASCII letters, digits and ``_`` of its UTF-8 bytes (a
    superset of its ASCII words: a letter beyond ASCII separates words here)."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    out: set[bytes] = set()
    for chunk in _chunks(data.translate(_WORD_BYTES)):
        out.update(chunk)
    return out


def _chunks(words: bytes):
    """The words of ``words`` (bytes in which everything but word characters is a space), listed at
    most about :data:`_CHUNK` bytes at a time."""
    start = 0
    while start < len(words):
        end = words.find(b" ", start + _CHUNK)
        end = len(words) if end < 0 else end
        yield words[start:end].split()
        start = end


def _trie(words: list[str]) -> str:
    """An alternation of ``words`` factored by common prefixes, which ``re`` matches far faster
    than a flat list of alternatives (a text of megabytes is scanned once per file)."""
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[:1], []).append(word[1:])
    parts = []
    for head, tails in sorted(groups.items()):
        if head == "":
            continue
        rest = [t for t in tails if t]
        inner = _trie(rest) if rest else ""
        optional = "" in tails
        if not rest:
            parts.append(re.escape(head))
        else:
            parts.append(re.escape(head) + (f"(?:{inner})?" if optional else inner))
    return parts[0] if len(parts) == 1 and "" not in groups else "(?:%s)" % "|".join(parts)
