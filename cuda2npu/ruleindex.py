"""The rulebook arranged for fast lookup by each rule kind; built once per run."""

from __future__ import annotations

import dataclasses
import re

from .prefilter import TriggerWords, byte_words, few_words_pattern, trigger_pattern, trigger_words, triggers
from .rulebook import Rule, RuleBook
from .symbols import Bindings, PrefixIndex, chain_ending

# Index forms a device string may carry after "<device>:": a number, a %-placeholder, a {field}.
_DEVICE_SUFFIX = r"(?::(?:\d+|%[dis]|\{[^{}]*\})?)?"
WORD_CHAR = re.compile(r"\w")
_ALNUM = re.compile(r"[A-Za-z0-9]")
_IMPORT_PREFIX = re.compile(r"[ \t]*(?:from|import(?:[ \t]+[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,)*)[ \t]+")


def symbol_index(book: RuleBook) -> PrefixIndex[tuple[Rule, str | None]]:
    """Rename and report rules by the dotted names they match, with their new names (None: report).
    A rename wins over a report of the same name (the report is its fallback when it is not selected)."""
    index: PrefixIndex[tuple[Rule, str | None]] = PrefixIndex()
    for rule in sorted(book, key=lambda r: r.kind != "rename"):
        if rule.kind in ("rename", "report"):
            for old, new in rule.pairs():
                index.add(old, (rule, new), exact=bool(rule.get("exact")))
    return index


_DOTTED_KINDS = ("rename", "report", "call", "argument")


def dotted_words(book: RuleBook) -> dict[str, frozenset[str]]:
    """The trigger words that only rules on dotted names (rename, report, call, argument) act on,
    each with those rules' names ending in it: ``compile`` -> ``{"torch.compile"}``. Such a word is a
    site only where it ends a chain of names (or is a name) that the file's imports bind to one of
    those names: never in ``re.compile``."""
    names: dict[str, set[str]] = {}
    other: set[str] = set()
    for rule in book:
        match = rule.get("match") if rule.kind in _DOTTED_KINDS else None
        matched = [match] if isinstance(match, str) else match or []
        words = triggers(rule, dependent=True) | ({n.split(".")[-1] for n in matched} if rule.get("spelled") else set())
        by_name = not rule.get("trigger") and not rule.get("results_of")
        for word in words:
            ends = [n for n in matched if n.split(".")[-1] == word] if by_name else []
            (names.setdefault(word, set()).update(ends) if ends else other.add(word))
    return {word: frozenset(ends) for word, ends in names.items() if word not in other}


def word_pattern(words) -> re.Pattern[str]:
    """Any of ``words`` as a word of letters and digits (``_`` separates words: ``is_torch_npu``)."""
    alternatives = "|".join(map(re.escape, sorted(words, key=lambda w: (-len(w), w)))) or "(?!)"
    return re.compile(r"(?<![A-Za-z0-9])(?:%s)(?![A-Za-z0-9])" % alternatives, re.I)


def word_offsets(text: str, words, inner: re.Pattern[str]):
    """The offsets of each of ``words`` in ``text`` standing as a word: not next to a character
    ``inner`` matches. Substring searches, much faster than an expression on large files."""
    for word in words:
        at = text.find(word)
        while at >= 0:
            end = at + len(word)
            if not inner.match(text, end) and not (at and inner.match(text, at - 1)):
                yield at
            at = text.find(word, end)


class RuleIndex:
    """Each kind's rules by what they match, the trigger patterns, and the words of the target."""

    def __init__(self, book: RuleBook):
        self.book = book
        self.symbols = symbol_index(book)
        self.calls: dict[str, Rule] = {}
        self.arguments: dict[str, list[Rule]] = {}
        self.attributes: dict[str, list[Rule]] = {}  # by name; rules limited to receivers (``results_of``) first
        self.strings: dict[str, Rule] = {}
        self.folded_strings: dict[str, Rule] = {}  # rules with ignore_case, by the lower-cased value
        self.string_patterns: list[tuple[Rule, str, re.Pattern[str]]] = []
        self.imports = book.of_kind("import")
        self.anchor_root = self.imports[0].get("after") if self.imports else None
        self.context = {rule.get("check"): rule for rule in book.of_kind("context")}
        for rule in book:
            if rule.kind == "call":
                self.calls.setdefault(rule.get("match"), rule)
            elif rule.kind == "argument":
                for old, _ in rule.pairs():
                    self.arguments.setdefault(old, []).append(rule)
            elif rule.kind == "attribute":
                for name in rule.matches():
                    self.attributes.setdefault(name, []).append(rule)
            elif rule.kind == "string":
                for word in rule.matches():
                    flags = re.I if rule.get("ignore_case") else 0
                    if word.endswith("*"):  # a family: the prefix and any name going on from it
                        pattern = re.compile(re.escape(word[:-1]) + r"\w+")
                    elif rule.get("device"):
                        pattern = re.compile(re.escape(word) + _DEVICE_SUFFIX, flags)
                    elif rule.get("prefix"):
                        pattern = re.compile(re.escape(word) + r"(?: .*)?", re.S | flags)
                    else:
                        self.strings.setdefault(word, rule)
                        if flags:
                            self.folded_strings.setdefault(word.lower(), rule)
                        continue
                    self.string_patterns.append((rule, word, pattern))
        for rules in self.attributes.values():
            rules.sort(key=lambda r: r.get("results_of") is None)
        # Does a file need its origins (cuda2npu.origins): only if it names a results_of rule's trigger.
        self.origins = few_words_pattern(dataclasses.replace(book, rules=tuple(
            r for r in book.of_kind("attribute") if r.get("results_of"))))
        # CUDA-only APIs (rules tagged cuda-only; an argument rule's only with its keywords): what guards
        # protect, what sibling modules hold
        self.cuda_only: PrefixIndex[Rule] = PrefixIndex()
        self.cuda_only_keywords: dict[str, Rule] = {}  # calls that are CUDA-only with these keywords
        for rule in book:
            if "cuda-only" in rule.tags:
                for old, _ in rule.pairs():
                    if rule.kind == "argument":
                        self.cuda_only_keywords.setdefault(old, rule)
                    else:
                        self.cuda_only.add(old, rule)
        # A file can use one only if it imports its package and spells the name's last part (a module
        # importing transformers is not CUDA-only unless it names BitsAndBytesConfig), or names one of
        # a rule's trigger words.
        names = [name.split(".") for r in book if "cuda-only" in r.tags and not r.get("trigger") for name, _ in r.pairs()]
        self._cuda_only_roots = tuple(sorted({parts[0] for parts in names}))
        self._cuda_only_lasts = {root: tuple(sorted({p[-1] for p in names if p[0] == root})) for root in self._cuda_only_roots}
        self._cuda_only_words = tuple(sorted({w for r in book if "cuda-only" in r.tags for w in r.get("trigger") or ()}))
        self.trigger = trigger_pattern(book)  # does a file need parsing at all
        self.site_trigger = trigger_pattern(book, dependent=True)  # may a statement hold a site
        # Names of reports that act only in files spelling every part of them (op support): the
        # last part, with the other parts (but the root) the file must hold as words too.
        self._spelled = sorted({(name.split(".")[-1], frozenset(name.split(".")[1:-1]))
                                for r in book if r.get("spelled") for name, _ in r.pairs()}, key=str)
        self._site_words = TriggerWords(*trigger_words(book, dependent=True))
        # Code that mentions the target, or a value a string rule writes ("npu", "hccl", ...),
        # already handles the target.
        self.target_words = ({book.target, *book.aware}
                             | {r.get("replace") for r in book.of_kind("string") if r.get("replace")})
        self.aware = word_pattern(self.target_words)
        self.dotted_words = dotted_words(book)

    def possible_site(self, source: str, bindings: Bindings):
        """For the matches of :meth:`site_patterns` in ``source`` (whose imports bind ``bindings``):
        False where one cannot be a site (a word of :func:`dotted_words` that the imports do not
        bind to a rule's name there), else True."""

        def possible(match: re.Match[str]) -> bool:
            names = self.dotted_words.get(match.group())
            if names is None:
                return True
            parts = chain_ending(source, match.start(), match.end())
            if parts is None:
                return True
            qualified = bindings.qualify(parts) if parts else None
            return qualified is not None and ".".join(qualified[0]) in names

        return possible

    def site_patterns(self, source: str) -> list:
        """A pattern finding the words of :attr:`site_trigger` that ``source`` holds, and the names
        of ``spelled`` reports whose parts it holds (as the whole alternation would, much faster)."""
        words = byte_words(source)
        extra = frozenset(last for last, parts in self._spelled if last.encode() in words
                          and all(p.encode() in words for p in parts))
        pattern = self._site_words.pattern(source, words, extra)
        return [pattern] if pattern is not None else []

    def target_offsets(self, text: str):
        """Where ``text`` names the target ("npu", "hccl", ...) as a word, in any case (as :attr:`aware`)."""
        return word_offsets(text.lower(), [w.lower() for w in self.target_words], _ALNUM)

    def names_target(self, text: str) -> bool:
        return next(self.target_offsets(text), None) is not None

    def may_use_cuda_only(self, text: str | bytes) -> bool:
        """Whether ``text`` may use a CUDA-only API: an import line of its package where the text
        also spells the API's last part, or one of the rules' trigger words."""
        if isinstance(text, bytes):
            if not any(w.encode() in text for w in self._cuda_only_roots + self._cuda_only_words):
                return False
            text = text.decode("utf-8", "replace")
        if next(word_offsets(text, self._cuda_only_words, WORD_CHAR), None) is not None:
            return True
        return any(_IMPORT_PREFIX.fullmatch(text, text.rfind("\n", 0, at) + 1, at)
                   for root in self._cuda_only_roots if any(last in text for last in self._cuda_only_lasts[root])
                   for at in word_offsets(text, (root,), WORD_CHAR))

    def triggered(self, source: str) -> bool:
        """Whether any rule could act on ``source``: a file without a trigger word is never parsed."""
        return self.trigger is not None and self.trigger.search(source) is not None

    def string(self, text: str) -> tuple[Rule, str, str | None, str] | None:
        """For a string literal's content: the rule, the word it matched, the new text (None:
        report) and the name the rule would write (for a report's ``{replace}``)."""
        rule = self.strings.get(text)
        if rule is not None:
            return _known(rule, text, rule.get("replace"))
        rule = self.folded_strings.get(text.lower())
        if rule is not None:  # written in the case of the original: code may compare it after .upper()
            replace = rule.get("replace")
            return _known(rule, text, None if replace is None else _same_case(text, replace))
        for rule, word, pattern in self.string_patterns:
            if pattern.fullmatch(text):
                replace = rule.get("replace")
                if word.endswith("*"):  # a family: the whole name, its twin going on the same way
                    return _known(rule, text, None if replace is None else replace[:-1] + text[len(word) - 1:])
                return _known(rule, text[:len(word)], None if replace is None else replace + text[len(word):])
        return None


def _known(rule: Rule, word: str, text: str | None) -> tuple[Rule, str, str | None, str]:
    """A rule with ``known`` writes only names of that list: any other it reports."""
    which = rule.get("known")
    if text is not None and which is not None:
        from .known import names
        if text not in names(which):
            return rule, word, None, text
    return rule, word, text, text or ""


def _same_case(original: str, new: str) -> str:
    """``new`` in the case of ``original``: "NCCL" -> "HCCL", "Nccl" -> "Hccl", else as written."""
    if original.isupper():
        return new.upper()
    if original[:1].isupper() and original[1:].islower():
        return new.capitalize()
    return new
