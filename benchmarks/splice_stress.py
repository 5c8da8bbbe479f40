"""Splicing against whole-file parsing on real code with CUDA sites put in random places.

Real library files hold their CUDA sites in few places; this check puts sites, CUDA imports,
docstrings and comments before random statements at every depth of the pinned packages' files
(seeded, reproducible) and requires the spliced run (the default) and the whole-file run to give
the same code, edits and findings. Exits 1 on any difference and keeps the inputs that differ.

    python benchmarks/splice_stress.py --files 200 --variants 3
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # keep the repo free of __pycache__
import _corpus

sys.path.insert(0, str(_corpus.REPO))
from cuda2npu.engine import Engine  # noqa: E402
from cuda2npu.rulebook import load_rulebook  # noqa: E402

SNIPPETS = (
    "x_ = t.cuda()",
    'd_ = torch.device("cuda")',
    "torch.cuda.synchronize()",
    'os.environ["CUDA_VISIBLE_DEVICES"] = "0"',
    "from torch.cuda import amp as C_",
    "C_.autocast()",
    '"""Runs on cuda."""',
    "# cuda in a comment",
)


def variants(source: str, rng: random.Random, count: int, per_file: int = 3):
    """``count`` copies of ``source``, each with snippets before ``per_file`` random statements."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    statements = [s for s in ast.walk(tree) if isinstance(s, ast.stmt)]
    for _ in range(count if statements else 0):
        new = list(lines)
        for stmt in sorted(rng.sample(statements, min(per_file, len(statements))), key=lambda s: -s.lineno):
            line = new[stmt.lineno - 1]
            indent = line[:len(line) - len(line.lstrip())]
            if line[:stmt.col_offset].strip():  # not the first statement on its line
                continue
            new.insert(stmt.lineno - 1, indent + rng.choice(SNIPPETS) + "\n")
        text = "".join(new)
        try:
            ast.parse(text)
        except SyntaxError:  # a snippet landed inside a bracketed continuation
            continue
        yield text


def outcome(engine: Engine, text: str):
    try:
        result = engine.migrate(text)
    except Exception as exc:  # compared, not raised: both modes must fail alike
        return ("error", type(exc).__name__, str(exc))
    return (result.code, result.edits, result.findings)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--packages", default=",".join(_corpus.PINS), help="comma-separated pinned packages")
    p.add_argument("--files", type=int, default=200, help="random files per package")
    p.add_argument("--variants", type=int, default=3, help="variants per file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=_corpus.DEFAULT_CACHE)
    args = p.parse_args(argv)
    sys.setrecursionlimit(30_000)
    book = load_rulebook()
    spliced, whole = Engine(book), Engine(book, splice=False)
    rng = random.Random(args.seed)
    keep = Path(tempfile.mkdtemp(prefix="cuda2npu-splice-stress-"))
    checked = differ = 0
    for name in args.packages.split(","):
        version, root = _corpus.fetch(name, args.cache)
        files = _corpus.python_files(root)
        for path in rng.sample(files, min(args.files, len(files))):
            try:
                source = path.read_text(encoding="utf-8")
                texts = list(variants(source, rng, args.variants))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for text in texts:
                checked += 1
                if outcome(spliced, text) != outcome(whole, text):
                    differ += 1
                    (keep / f"{differ}-{path.name}").write_text(text, encoding="utf-8")
        print(f"{name} {version}: {checked} variants checked so far, {differ} differ", flush=True)
    print(f"variants: {checked}; spliced != whole: {differ}" + (f" (inputs kept in {keep})" if differ else ""))
    if not differ:
        keep.rmdir()
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
