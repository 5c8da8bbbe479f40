"""What `cuda2npu migrate` does to files on disk: bytes kept, errors contained, trees walked safely."""

from __future__ import annotations

import ast
import os
import re
import stat
from pathlib import Path

import pytest
from samples import SNIPPET, SNIPPET_NPU

# A small file the built-in rules change in one obvious way (NPU102 + NPU001).
CUDA = b"import torch\nx = torch.zeros(1).cuda()\n"
NPU = b"import torch\nimport torch_npu\nx = torch.zeros(1).npu()\n"


def snapshot(path: Path) -> tuple:
    st = path.stat()
    return path.read_bytes(), st.st_ino, st.st_mtime_ns, stat.S_IMODE(st.st_mode)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


def assert_no_traceback(result) -> None:
    assert result.traceback == "", result.traceback
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def summary_line(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if "scanned:" in line)


# -- in place: the realistic case ----------------------------------------------------------------

def test_realistic_snippet_is_migrated_in_place(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("train.py").write_text(SNIPPET)
    result = cli("migrate", "train.py")
    assert_no_traceback(result)
    assert result.exit_code == 0
    assert Path("train.py").read_text() == SNIPPET_NPU
    assert result.stdout == ""  # stdout holds only a diff
    assert summary_line(result.stderr) == "cuda2npu: 1 file scanned: 1 changed, 0 unchanged, 0 failed"


def test_second_run_changes_nothing_and_does_not_rewrite(cli, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(SNIPPET)
    (tmp_path / "b.py").write_bytes(CUDA)
    assert cli("migrate", tmp_path).exit_code == 0
    before = {p: snapshot(p) for p in tmp_path.rglob("*.py")}
    again = cli("migrate", tmp_path)
    assert again.exit_code == 0
    assert summary_line(again.stderr) == "cuda2npu: 2 files scanned: 0 changed, 2 unchanged, 0 failed"
    assert {p: snapshot(p) for p in tmp_path.rglob("*.py")} == before
    assert cli("migrate", "--check", tmp_path).exit_code == 0


@pytest.mark.parametrize("text", [
    "import torch\n\nx = torch.zeros(2)\ny = x.to(device)  # was on cuda before\n",
    'import torch\n\nprint("cuda is not available")\nis_cuda = False\n',
    '"""Helpers: nothing here runs on CUDA."""\nimport torch\nimport numpy as np\n',
], ids=["comment", "message-string", "docstring"])
def test_file_without_cuda_code_is_byte_identical_and_gets_no_import(cli, tmp_path, text):
    path = tmp_path / "util.py"
    path.write_text(text)
    before = snapshot(path)
    result = cli("migrate", path)
    assert result.exit_code == 0
    assert snapshot(path) == before
    assert b"torch_npu" not in path.read_bytes()


@pytest.mark.parametrize("data", [b"", b"# a comment about cuda\n# and torch.cuda.synchronize()\n"],
                         ids=["empty", "comments-only"])
def test_empty_and_comment_only_files_are_unchanged(cli, tmp_path, data):
    path = tmp_path / "c.py"
    path.write_bytes(data)
    before = snapshot(path)
    result = cli("migrate", path)
    assert result.exit_code == 0
    assert error_lines(result.stderr) == []
    assert snapshot(path) == before


# -- bytes kept: encodings, BOM, line endings --------------------------------------------------

BYTES_CASES = {
    "crlf": (b"import torch\r\nx = torch.zeros(1).cuda()\r\n",
             b"import torch\r\nimport torch_npu\r\nx = torch.zeros(1).npu()\r\n"),
    "mixed-endings": (b"import torch\nx = torch.zeros(1).cuda()\r\ny = 1\r\nz = 2\n",
                      b"import torch\nimport torch_npu\nx = torch.zeros(1).npu()\r\ny = 1\r\nz = 2\n"),
    "no-final-newline": (b"import torch\nx = torch.zeros(1).cuda()",
                         b"import torch\nimport torch_npu\nx = torch.zeros(1).npu()"),
    "utf8-bom": (b"\xef\xbb\xbfimport torch\nx = torch.zeros(1).cuda()\n",
                 b"\xef\xbb\xbfimport torch\nimport torch_npu\nx = torch.zeros(1).npu()\n"),
    "latin-1-cookie": (
        b"# -*- coding: latin-1 -*-\nimport torch\n# caf\xe9\nname = \"\xe9t\xe9\"\nx = t.cuda()\n",
        b"# -*- coding: latin-1 -*-\nimport torch\nimport torch_npu\n# caf\xe9\nname = \"\xe9t\xe9\"\nx = t.npu()\n"),
    "cr-only-classic-mac": (b"import torch\rx = t.cuda()\r", b"import torch\rimport torch_npu\rx = t.npu()\r"),
    "utf8-non-ascii": ("import torch\n# übergroß\nx = t.cuda()  # → npu\n".encode(),
                       "import torch\nimport torch_npu\n# übergroß\nx = t.npu()  # → npu\n".encode()),
}


@pytest.mark.parametrize(("before", "after"), BYTES_CASES.values(), ids=BYTES_CASES.keys())
def test_encoding_bom_and_line_endings_are_kept(cli, tmp_path, before, after):
    path = tmp_path / "m.py"
    path.write_bytes(before)
    result = cli("migrate", path)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes() == after
    assert cli("migrate", path).exit_code == 0 and path.read_bytes() == after  # idempotent


# -- files that cannot be migrated: reported, left byte-identical, the run goes on -------------

BAD_FILES = {
    "syntax-error": (b"import torch\nx = t.cuda(\n", 2, "syntax error"),  # Python too says line 2
    "python2-print-with-cuda": (b'import torch\nprint "cuda"\n', 2, "syntax error"),
    "python2-print": (b'print "x"\nx = t.cuda()\n', 1, "syntax error"),
    "invalid-utf8": (b'import torch\nx = "\xff\xfe"\ny = t.cuda()\n', 2, "decode"),
    "binary-nul": (b"import torch\x00\x01\x02 t.cuda()\n", 1, "binary"),
    "bad-cookie": (b"# -*- coding: no-such-codec -*-\nx = t.cuda()\n", 1, ""),
}


@pytest.mark.parametrize(("data", "line", "word"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_unparseable_or_undecodable_file_is_reported_and_left_alone(cli, tmp_path, monkeypatch,
                                                                   data, line, word):
    monkeypatch.chdir(tmp_path)
    Path("bad.py").write_bytes(data)
    Path("good.py").write_bytes(CUDA)
    bad_before = snapshot(Path("bad.py"))
    result = cli("migrate", "bad.py", "good.py")
    assert_no_traceback(result)
    assert result.exit_code == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"bad.py:{line}: error: ")
    assert word in errors[0]
    assert snapshot(Path("bad.py")) == bad_before
    assert Path("good.py").read_bytes() == NPU  # the run goes on
    assert summary_line(result.stderr) == "cuda2npu: 2 files scanned: 1 changed, 0 unchanged, 1 failed"


def test_output_that_does_not_parse_is_never_written(cli, tmp_path):
    # `class` passes the dotted-name check of a rule file but makes `mylib.class` a syntax error.
    rules = tmp_path / "broken.yaml"
    rules.write_text("target: npu\nrules:\n  - {id: BRK1, kind: rename, summary: s, "
                     "match: mylib.old_api, replace: mylib.class}\n")
    path = tmp_path / "m.py"
    path.write_bytes(b"import mylib\nmylib.old_api()\nx = t.cuda()\n")
    before = snapshot(path)
    result = cli("migrate", "--rules", rules, path)
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert len(error_lines(result.stderr)) == 1
    assert snapshot(path) == before


def test_read_only_file_is_reported_not_written(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("ro.py").write_bytes(CUDA)
    os.chmod("ro.py", 0o444)
    Path("rw.py").write_bytes(CUDA)
    before = snapshot(Path("ro.py"))
    result = cli("migrate", "ro.py", "rw.py")
    assert_no_traceback(result)
    assert result.exit_code == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and errors[0].startswith("ro.py: error: ")
    assert snapshot(Path("ro.py")) == before
    assert Path("rw.py").read_bytes() == NPU


def test_read_only_file_in_check_mode_is_not_an_error(cli, tmp_path):
    path = tmp_path / "ro.py"
    path.write_bytes(CUDA)
    os.chmod(path, 0o444)
    result = cli("migrate", "--check", path)
    assert result.exit_code == 1
    assert error_lines(result.stderr) == []
    assert path.read_bytes() == CUDA


# -- writing: atomic, mode kept, nothing left behind -------------------------------------------

def test_write_is_atomic_keeps_mode_and_leaves_no_temp_files(cli, tmp_path):
    path = tmp_path / "run.py"
    path.write_bytes(b"#!/usr/bin/env python\n" + CUDA)
    os.chmod(path, 0o751)
    inode = path.stat().st_ino
    result = cli("migrate", path)
    assert result.exit_code == 0
    assert path.read_bytes() == b"#!/usr/bin/env python\n" + NPU
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert path.stat().st_ino != inode  # written to a temporary file and renamed over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.py"]


def test_only_changed_files_are_rewritten(cli, tmp_path):
    (tmp_path / "a.py").write_bytes(CUDA)
    (tmp_path / "b.py").write_bytes(b"import torch\nx = torch.ones(3)\n")
    b_before = snapshot(tmp_path / "b.py")
    result = cli("migrate", tmp_path)
    assert result.exit_code == 0
    assert (tmp_path / "a.py").read_bytes() == NPU
    assert snapshot(tmp_path / "b.py") == b_before


# -- walking trees -------------------------------------------------------------------------------

def test_walk_skips_non_python_and_excluded_folders(cli, tmp_path):
    (tmp_path / "notes.txt").write_bytes(CUDA)
    for folder in (".git", "__pycache__", "build", ".venv"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.py").write_bytes(CUDA)
    (tmp_path / "stub.pyi").write_bytes(b"import torch\ndef f() -> None: ...\nx = t.cuda()\n")
    result = cli("migrate", tmp_path)
    assert result.exit_code == 0
    assert summary_line(result.stderr) == "cuda2npu: 1 file scanned: 1 changed, 0 unchanged, 0 failed"
    assert (tmp_path / "notes.txt").read_bytes() == CUDA
    for folder in (".git", "__pycache__", "build", ".venv"):
        assert (tmp_path / folder / "x.py").read_bytes() == CUDA


def test_directory_named_like_a_python_file(cli, tmp_path):
    (tmp_path / "x.py").mkdir()
    (tmp_path / "x.py" / "inner.py").write_bytes(CUDA)
    result = cli("migrate", tmp_path)
    assert_no_traceback(result)
    assert result.exit_code == 0
    assert (tmp_path / "x.py" / "inner.py").read_bytes() == NPU
    given = cli("migrate", "--check", tmp_path / "x.py")  # the folder given by name
    assert_no_traceback(given)
    assert given.exit_code == 0


def test_symlinks_inside_a_tree_are_not_followed(proc, tmp_path):
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (outside / "target.py").write_bytes(CUDA)
    (tree / "real.py").write_bytes(CUDA)
    (tree / "link.py").symlink_to(outside / "target.py")
    (tree / "linkdir").symlink_to(outside, target_is_directory=True)
    (tree / "loop").symlink_to(tree, target_is_directory=True)  # a loop back to the root
    (tree / "a.py").symlink_to(tree / "b.py")
    (tree / "b.py").symlink_to(tree / "a.py")  # a loop between two files
    result = proc("migrate", tree)
    assert result.returncode == 0, result.stderr
    assert (tree / "real.py").read_bytes() == NPU
    assert (outside / "target.py").read_bytes() == CUDA
    assert (tree / "link.py").is_symlink() and (tree / "linkdir").is_symlink()
    assert b"1 file scanned: 1 changed" in result.stderr


def test_symlink_loop_given_on_the_command_line_is_an_error_not_a_crash(proc, tmp_path):
    (tmp_path / "a.py").symlink_to(tmp_path / "b.py")
    (tmp_path / "b.py").symlink_to(tmp_path / "a.py")
    (tmp_path / "ok.py").write_bytes(CUDA)
    result = proc("migrate", tmp_path / "a.py", tmp_path / "ok.py")
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    assert result.returncode in (1, 2)
    assert b"a.py" in result.stderr


def test_symlink_given_on_the_command_line_writes_the_target(cli, tmp_path):
    (tmp_path / "real.py").write_bytes(CUDA)
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    result = cli("migrate", tmp_path / "link.py")
    assert result.exit_code == 0
    assert (tmp_path / "link.py").is_symlink()
    assert (tmp_path / "real.py").read_bytes() == NPU


def test_same_file_given_several_ways_is_processed_once(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pkg").mkdir()
    Path("pkg/a.py").write_bytes(CUDA)
    report = tmp_path / "r.json"
    result = cli("migrate", "--check", "--report", report, "pkg/a.py", "pkg/a.py", tmp_path / "pkg" / "a.py",
                 "pkg", "./pkg/../pkg/a.py")
    assert result.exit_code == 1
    assert summary_line(result.stderr) == "cuda2npu: 1 file scanned: 1 would change, 0 unchanged, 0 failed"
    import json

    assert len(json.loads(report.read_text())["files"]) == 1
    assert cli("migrate", "pkg/a.py", "pkg", "pkg/a.py").exit_code == 0
    assert Path("pkg/a.py").read_bytes() == NPU


def test_many_files_with_worker_processes_match_a_single_process(cli, tmp_path):
    one, many = tmp_path / "one", tmp_path / "many"
    for root in (one, many):
        root.mkdir()
        for i in range(40):  # above the pool threshold
            body = CUDA if i % 3 else b"import torch\nx = torch.ones(1)\n"
            (root / f"m{i:02}.py").write_bytes(body)
        (root / "m99.py").write_bytes(b'print "x"\nt.cuda()\n')
    r1 = cli("migrate", "-j", "1", one)
    r2 = cli("migrate", "-j", "2", many)
    assert (r1.exit_code, r2.exit_code) == (1, 1)
    assert summary_line(r1.stderr) == summary_line(r2.stderr) == \
        "cuda2npu: 41 files scanned: 26 changed, 14 unchanged, 1 failed"
    assert [p.read_bytes() for p in sorted(one.iterdir())] == [p.read_bytes() for p in sorted(many.iterdir())]


# -- --out-dir -----------------------------------------------------------------------------------

def make_project(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "train.py").write_text(SNIPPET)
    os.chmod(root / "train.py", 0o755)
    (root / "pkg" / "util.py").write_bytes(b"import torch\nx = torch.ones(1)\n")
    (root / "pkg" / "data.txt").write_bytes(b"not python: t.cuda()\n")
    (root / "pkg" / "bad.py").write_bytes(b'print "x"\ny = t.cuda()\n')


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_out_dir_mirrors_a_single_folder_and_leaves_inputs_untouched(cli, tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    make_project(src)
    before = tree_bytes(src)
    result = cli("migrate", "--out-dir", out, src)
    assert_no_traceback(result)
    assert result.exit_code == 1  # bad.py could not be parsed
    assert tree_bytes(src) == before
    assert tree_bytes(out) == {
        "pkg/bad.py": before["pkg/bad.py"],  # copied as is
        "pkg/data.txt": before["pkg/data.txt"],
        "pkg/util.py": before["pkg/util.py"],
        "train.py": SNIPPET_NPU.encode(),
    }
    assert stat.S_IMODE((out / "train.py").stat().st_mode) == 0o755
    assert summary_line(result.stderr) == "cuda2npu: 3 files scanned: 1 changed, 1 unchanged, 1 failed"


def test_out_dir_with_several_inputs_uses_their_basenames(cli, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "m.py").write_bytes(CUDA)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "m.py").write_bytes(CUDA)
    (tmp_path / "single.py").write_bytes(CUDA)
    out = tmp_path / "out"
    result = cli("migrate", "--out-dir", out, tmp_path / "a", tmp_path / "b", tmp_path / "single.py")
    assert result.exit_code == 0
    assert tree_bytes(out) == {"a/m.py": NPU, "b/m.py": NPU, "single.py": NPU}
    assert (tmp_path / "a" / "m.py").read_bytes() == CUDA and (tmp_path / "single.py").read_bytes() == CUDA


@pytest.mark.parametrize("where", ["src/out", "src/pkg/out", "src"])
def test_out_dir_inside_an_input_folder_is_refused(cli, tmp_path, where):
    make_project(tmp_path / "src")
    before = tree_bytes(tmp_path / "src")
    result = cli("migrate", "--out-dir", tmp_path / where, tmp_path / "src")
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "cuda2npu: error: " in result.stderr and "--out-dir" in result.stderr
    assert tree_bytes(tmp_path / "src") == before
    assert not (tmp_path / "src" / "out").exists() and not (tmp_path / "src" / "pkg" / "out").exists()


def test_out_dir_that_holds_an_input_file_does_not_overwrite_it(cli, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_bytes(CUDA)
    result = cli("migrate", "--out-dir", src, src / "a.py")  # DIR/<basename> is the input itself
    assert result.traceback == ""
    assert (src / "a.py").read_bytes() == CUDA, "--out-dir must leave inputs untouched"
    assert result.exit_code == 2


def test_out_dir_inputs_with_the_same_basename_do_not_overwrite_each_other(cli, tmp_path):
    for side, body in (("a", CUDA), ("b", b"import torch\ny = t.cuda()\n")):
        (tmp_path / side / "pkg").mkdir(parents=True)
        (tmp_path / side / "pkg" / "m.py").write_bytes(body)
    out = tmp_path / "out"
    result = cli("migrate", "--out-dir", out, tmp_path / "a" / "pkg", tmp_path / "b" / "pkg")
    assert result.traceback == ""
    if result.exit_code != 2:  # refusing is fine; silently dropping one input's output is not
        outputs = sorted(p.read_bytes() for p in out.rglob("*.py"))
        assert outputs == sorted([NPU, b"import torch\nimport torch_npu\ny = t.npu()\n"]), outputs


@pytest.mark.parametrize("blocked", ["pkg/data.txt", "pkg/bad.py", "pkg/util.py"])
def test_out_dir_write_failure_is_reported_not_a_crash(cli, tmp_path, blocked):
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "pkg").mkdir(parents=True)
    (src / blocked).write_bytes({"pkg/data.txt": b"text\n", "pkg/bad.py": b'print "x"\nt.cuda()\n',
                                 "pkg/util.py": CUDA}[blocked])
    (src / "ok.py").write_bytes(CUDA)
    out.mkdir()
    (out / "pkg").write_bytes(b"a file where the folder should go\n")  # makes every write below fail
    result = cli("migrate", "--out-dir", out, src)
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert any(line.startswith(str(src / blocked)) for line in error_lines(result.stderr)), result.stderr
    assert (out / "ok.py").read_bytes() == NPU  # the run goes on


def test_out_dir_output_is_valid_python(cli, tmp_path):
    make_project(tmp_path / "src")
    cli("migrate", "--out-dir", tmp_path / "out", tmp_path / "src")
    for path in (tmp_path / "out").rglob("*.py"):
        if path.name != "bad.py":
            ast.parse(path.read_bytes())


def test_errors_name_the_file_with_a_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("sub").mkdir()
    Path("sub/late.py").write_bytes(b"import torch\n\n\nx = t.cuda()\ny = (\n")
    result = cli("migrate", "sub")
    assert result.exit_code == 1
    assert re.fullmatch(r"sub/late\.py:\d+: error: .+", error_lines(result.stderr)[0])


def test_file_without_any_trigger_is_not_parsed(cli, tmp_path):
    """The prefilter: a file no rule could act on is never parsed, so its syntax is not judged."""
    path = tmp_path / "legacy.py"
    path.write_bytes(b'print "no device code here"\n')
    result = cli("migrate", path)
    assert result.exit_code == 0
    assert path.read_bytes() == b'print "no device code here"\n'


def test_excludes_are_gitignore_style_globs(tmp_path):
    from cuda2npu.files import Excluder

    for rel in ("test_top.py", "pkg/test_deep.py", "pkg/mod.py", "vendor/lib.py", "pkg/vendor", "src/a.py",
                "src/pkg/b.py", "keep/test_keep.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    excluded = Excluder(["**/test_*.py", "vendor/", "src/*.py", "!keep/test_keep.py"], tmp_path)
    assert {rel for rel in ("test_top.py", "pkg/test_deep.py", "pkg/mod.py", "vendor/lib.py", "pkg/vendor",
                            "src/a.py", "src/pkg/b.py", "keep/test_keep.py")
            if excluded(tmp_path / rel, tmp_path)} == {"test_top.py", "pkg/test_deep.py", "vendor/lib.py", "src/a.py"}


def test_out_dir_copies_excluded_and_git_ignored_files_unmigrated(cli, tmp_path):
    src = tmp_path / "src"
    for rel, text in {"train.py": SNIPPET, "build/gen.py": SNIPPET, "weights/model.bin": "bin",
                      ".gitignore": "weights/\n", ".git/config": "[core]\n", ".venv/pyvenv.cfg": "home = /x\n"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    result = cli("migrate", "--no-config", "--out-dir", tmp_path / "out", src)
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        ".gitignore", "build/gen.py", "train.py", "weights/model.bin"]
    assert (out / "train.py").read_text() == SNIPPET_NPU
    assert (out / "build" / "gen.py").read_text() == SNIPPET  # excluded: copied as it is
    assert result.stderr.splitlines()[0] == f"migrated {src / 'train.py'}"
