"""Notebooks: code cells migrated as one program, magics kept, outputs and JSON layout untouched."""

import json

import pytest

from cuda2npu.engine import Engine
from cuda2npu.notebook import migrate_notebook
from cuda2npu.results import SourceError
from cuda2npu.rulebook import load_rulebook

ENGINE = Engine(load_rulebook())


def notebook(*sources, indent=1, ascii_only=False, language="python"):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": src.splitlines(keepends=True)} for src in sources]
    nb = {"metadata": {"kernelspec": {"language": language, "name": "k"}}, "nbformat": 4, "nbformat_minor": 5,
          "cells": cells}
    return json.dumps(nb, indent=indent, ensure_ascii=ascii_only) + "\n"


def sources(text):
    return ["".join(c["source"]) for c in json.loads(text)["cells"]]


def test_cells_share_imports_and_magics_are_kept():
    text = notebook("%load_ext autoreload\nimport torch as th", "x = th.zeros(1).cuda()\n!ls\ny = !pwd")
    new, result = migrate_notebook(text, ENGINE.migrate)
    assert sources(new) == ["%load_ext autoreload\nimport torch as th\nimport torch_npu",
                            "x = th.zeros(1).npu()\n!ls\ny = !pwd"]
    assert [(e.rule, e.line) for e in result.edits] == [("NPU001", 3), ("NPU102", 1)]
    assert result.edits[1].message.startswith("cell 2: ")
    assert migrate_notebook(new, ENGINE.migrate)[0] == new


@pytest.mark.parametrize(("indent", "ascii_only", "crlf"), [
    (1, False, False), (2, True, False), (4, False, False), (3, False, False), ("\t", True, False),
    (1, False, True), (None, False, False),
], ids=["1", "2-ascii", "4", "3", "tab", "crlf", "one-line"])
def test_json_layout_is_kept(indent, ascii_only, crlf):
    def layout(text):
        return text.replace("\n", "\r\n") if crlf else text

    text = layout(notebook("import torch\n# données\nx = t.cuda()", indent=indent, ascii_only=ascii_only))
    new = migrate_notebook(text, ENGINE.migrate)[0]
    expected = layout(notebook("import torch\nimport torch_npu\n# données\nx = t.npu()", indent=indent,
                               ascii_only=ascii_only))
    assert new == expected


def test_non_python_kernel_and_foreign_cell_magics_are_left_alone():
    text = notebook("x = t.cuda()", language="R")
    assert migrate_notebook(text, ENGINE.migrate)[0] == text
    text = notebook("%%bash\nnvcc -o x x.cu\necho cuda", "%%time\ny = t.cuda()")
    assert sources(migrate_notebook(text, ENGINE.migrate)[0]) == [
        "%%bash\nnvcc -o x x.cu\necho cuda", "%%time\nimport torch_npu\ny = t.npu()"]


def test_invalid_json_is_an_error_with_a_line():
    with pytest.raises(SourceError) as err:
        migrate_notebook('{\n "cells": [\n}', ENGINE.migrate)
    assert err.value.line == 3 and "invalid notebook JSON" in err.value.message


def test_unusual_layout_is_refused_not_rewritten():
    text = '{"cells": [{"cell_type": "code", "source": "x = t.cuda()", "metadata": {}, "outputs": []}],   "nbformat": 4}'
    with pytest.raises(SourceError, match="cannot be kept exactly"):
        migrate_notebook(text, ENGINE.migrate)


def test_cli_on_a_notebook(cli, tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook("import torch\nx = t.cuda()"))
    diff = cli("migrate", "--diff", path)
    assert diff.exit_code == 1
    assert '-    "x = t.cuda()"\n+    "import torch_npu\\n",\n+    "x = t.npu()"\n' in diff.stdout
    assert cli("migrate", path).exit_code == 0
    assert sources(path.read_text()) == ["import torch\nimport torch_npu\nx = t.npu()"]
    bad = tmp_path / "bad.ipynb"
    bad.write_text('{"cells": [ "cuda"')
    result = cli("migrate", bad)
    assert result.exit_code == 1 and f"{bad}:1: error: invalid notebook JSON" in result.stderr


@pytest.mark.parametrize("trap", ["# cuda2npu-cell-0", "pass  # cuda2npu-magic-0", "# c2n0x-cell-1"])
def test_cells_holding_the_marker_texts_come_back_whole(tmp_path, cli, trap):
    """Marker comments are words no cell contains: a cell quoting one loses nothing."""
    import json

    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": ["import torch\n", f"{trap}\n", "x = t.cuda()\n", "!nvidia-smi"]},
             {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": [f"{trap}\n", "y = torch.cuda.synchronize()"]}]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    assert cli("migrate", path).exit_code == 0
    got = json.loads(path.read_text())["cells"]
    assert got[0]["source"] == ["import torch\n", "import torch_npu\n", f"{trap}\n", "x = t.npu()\n", "!nvidia-smi"]
    assert got[1]["source"] == [f"{trap}\n", "y = torch.npu.synchronize()"]


@pytest.mark.parametrize(("nb", "error"), [
    ({"cells": [], "metadata": {"kernelspec": "python3"}, "nbformat": 4, "nbformat_minor": 5}, None),
    ({"cells": [], "metadata": [], "nbformat": 4, "nbformat_minor": 5}, None),
    ({"cells": [{"cell_type": "code", "source": 3, "metadata": {}, "outputs": []}], "metadata": {},
      "nbformat": 4, "nbformat_minor": 5}, "invalid notebook: cell 1 has a source that is not text"),
    ({"worksheets": [{"cells": []}], "metadata": {}, "nbformat": 3, "nbformat_minor": 0},
     "nbformat 3 notebook: not migrated"),
])
def test_malformed_notebooks_fail_alone(tmp_path, cli, nb, error):
    import json

    bad = tmp_path / "bad.ipynb"
    bad.write_text(json.dumps({**nb, "x": "torch.cuda"}, indent=1) + "\n")  # a trigger word: it is read
    good = tmp_path / "good.py"
    good.write_text("import torch\nx = t.cuda()\n")
    result = cli("migrate", "--jobs", "1", tmp_path)
    assert "Traceback" not in result.stderr and result.traceback == ""
    assert good.read_text() == "import torch\nimport torch_npu\nx = t.npu()\n"
    if error:
        assert result.exit_code == 1 and f"bad.ipynb:1: error: {error}" in result.stderr
    else:
        assert result.exit_code == 0


def test_bang_and_percent_inside_brackets_are_python_not_magics():
    """Black-style continuation lines that start with != or % inside parentheses stay Python."""
    import json

    source = ["import torch\n", "ok = (\n", "    a\n", "    != b\n", ")\n", "s = (\"%d\"\n", "     % 3)\n",
              "x = t.cuda()\n", "!nvidia-smi"]
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(nb, indent=1) + "\n"
    new, migration = migrate_notebook(text, ENGINE.migrate)
    got = json.loads(new)["cells"][0]["source"]
    assert got == ["import torch\n", "import torch_npu\n", *source[1:7], "x = t.npu()\n", "!nvidia-smi"]


def test_a_syntax_error_is_reported_at_its_cell_and_line():
    import json

    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": src}
             for src in (["import torch\n", "x = t.cuda()\n"], ["y = 1\n", "def broken(:\n"])]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n"
    with pytest.raises(SourceError) as info:
        migrate_notebook(text, ENGINE.migrate)
    assert info.value.message.startswith("cell 2, line 2: syntax error")


def test_shell_lines_and_shell_cells_get_the_text_rules_of_shell_scripts():
    from cuda2npu.notebook import SHELL_NAME
    from cuda2npu.textfiles import TextRules

    text_rules = TextRules(load_rulebook())

    def shell(command):
        return text_rules.migrate(command, SHELL_NAME)

    text = notebook("x = 1\n!nvidia-smi\ngpus = !nvidia-smi -L\n!CUDA_VISIBLE_DEVICES=0 python train.py",
                    "%%bash\nexport NCCL_DEBUG=INFO\nnvcc --version", "%pip install -q accelerate")
    new, result = migrate_notebook(text, ENGINE.migrate, shell)
    assert sources(new) == ["x = 1\n!nvidia-smi\ngpus = !nvidia-smi -L\n!ASCEND_RT_VISIBLE_DEVICES=0 python train.py",
                            "%%bash\nexport NCCL_DEBUG=INFO\nnvcc --version", "%pip install -q accelerate"]
    assert [(e.rule, e.cell, e.line, e.col) for e in result.edits] == [("NPU801", 1, 4, 2)]
    assert [(f.rule, f.cell, f.line, f.col) for f in result.findings] == [
        ("NPU806", 1, 2, 2), ("NPU806", 1, 3, 9), ("NPU809", 2, 2, 8), ("NPU806", 2, 3, 1)]
    assert all(f.message.startswith(f"cell {f.cell}: ") for f in result.findings)
    assert migrate_notebook(new, ENGINE.migrate, shell)[0] == new
    python_only = notebook("x = 1\n!nvidia-smi")  # without text rules, shell lines are kept as they are
    new, result = migrate_notebook(python_only, ENGINE.migrate)
    assert new == python_only and result.findings == []


def test_cli_reads_a_notebook_whose_only_cuda_is_a_shell_line(cli, tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook("print('hello')\n!nvidia-smi"))
    result = cli("migrate", "--check", path)
    assert f"{path}:2:2 NPU806 cell 1: nvidia-smi does not exist on Ascend hosts" in result.stderr


def test_notebook_cells_view_of_the_diff(cli, tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(notebook("import torch", "x = 1", "y = t.cuda()"))
    result = cli("migrate", "--diff", "--notebook-cells", "--no-config", path)
    assert result.exit_code == 1
    name = str(path).lstrip("/")
    assert result.stdout == (f"--- a/{name} (cell 1)\n+++ b/{name} (cell 1)\n@@ -1 +1,2 @@\n-import torch\n"
                             f"+import torch\n+import torch_npu\n--- a/{name} (cell 3)\n+++ b/{name} (cell 3)\n"
                             "@@ -1 +1 @@\n-y = t.cuda()\n+y = t.npu()\n")
    assert cli("migrate", "--notebook-cells", path).exit_code == 2
