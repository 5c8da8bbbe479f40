"""The text prefilter never skips a file that a rule would change or flag."""

from pathlib import Path

import pytest

from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook

BOOK = load_rulebook()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SOURCES = ([pytest.param(e.before, id=f"{r.id}-{n}") for r in BOOK if r.kind != "text" for n, e in enumerate(r.examples, 1)]
           + [pytest.param(p.read_text(encoding="utf-8"), id=p.name) for p in sorted(FIXTURES.glob("*/*.py"))])


@pytest.fixture(scope="module")
def engines():
    unfiltered = Engine(BOOK)
    unfiltered.index.triggered = lambda source: True  # parse everything
    return Engine(BOOK), unfiltered


@pytest.mark.parametrize("source", SOURCES)
def test_prefilter_is_sound(engines, source):
    filtered, unfiltered = engines
    full = unfiltered.migrate(source)
    if full.edits or full.findings:
        assert filtered.index.triggered(source)
    assert filtered.migrate(source).code == full.code


def test_prefilter_skips_unrelated_words():
    index = Engine(BOOK).index
    assert not index.triggered("import re\nexample = sample(clamp)\n# graphs of events\n")
    assert index.triggered("x = t.cuda()\n")


def test_the_common_words_of_model_code_do_not_trigger_a_parse():
    """Rules that act on common names (``from_pretrained``, ``Trainer``, ``profile``, ``ops``) carry
    the rarer words a file must hold: without them most of transformers would be parsed."""
    index = Engine(BOOK).index
    assert not index.triggered("from transformers import Trainer\nops = load_ops()\n"
                               "model = AutoModel.from_pretrained(path)\nwith profile(run):\n    pass\n")
    assert index.triggered("model = AutoModel.from_pretrained(path, load_in_8bit=True)\n")


WORD_SAMPLES = ["x = t.cuda()\n", "xcuda = cudax\n", "é = écuda\n", "os.environ['NCCL_DEBUG'] = 'INFO'\n",
                "NCCL_\n", "backend = 'Nccl'\n", "b = 'NcClx'\n", "torch.compile(m, mode='max-autotune')\n",
                "mode = 'max-autotunes'\n", "subprocess.run(['nvidia-smi'])\n", "# TORCH_FR_X\n", "\t\fcuda\r\n",
                "s = '" + "a " * 700_000 + "'\ncuda = 1\n", "import re\n", ""]


@pytest.mark.parametrize("target", ["npu", "accelerator"])
def test_the_word_scan_on_bytes_finds_exactly_what_the_pattern_finds(target):
    import re

    from cuda2npu.prefilter import TriggerWords, trigger_pattern, trigger_words

    book = load_rulebook(target=target)
    pattern = re.compile(trigger_pattern(book).pattern.encode())
    words = TriggerWords(*trigger_words(book))
    assert words.rare or target == "accelerator"
    for sample in WORD_SAMPLES + [p.values[0] for p in SOURCES]:
        data = sample.encode()
        assert words.in_bytes(data, pattern) is (pattern.search(data) is not None), sample[:80]
    assert words.in_bytes(WORD_SAMPLES[-3].encode(), pattern)  # the word after the first chunk's worth of words



@pytest.mark.parametrize("target", ["npu", "accelerator"])
def test_the_site_pattern_of_the_words_a_file_holds_finds_what_the_whole_alternation_finds(target):
    """The site pattern holds only the words a file spells, and checks the boundary in front of
    each match itself: the same matches as the book's whole site pattern (and the names of the
    spelled reports the file holds)."""
    import re

    from cuda2npu.versions import for_release

    book = for_release(load_rulebook(target=target)) if target == "npu" else load_rulebook(target=target)
    index = Engine(book).index
    for source in WORD_SAMPLES + [p.values[0] for p in SOURCES] + ["é = écuda + cuda_x + cuda\n", "all_reduce(x)\n"]:
        words = set(re.findall(r"\w+", source))
        extra = frozenset(last for last, parts in index._spelled if last in words and parts <= words)
        names = re.compile(r"\b(?:%s)\b" % "|".join(map(re.escape, sorted(extra))))
        whole = [index.site_trigger] + [names] * bool(extra)
        expected = {m.span() for p in whole for m in p.finditer(source)}
        assert {m.span() for p in index.site_patterns(source) for m in p.finditer(source)} == expected, source[:80]
