"""Suppression comments skip a line's edits and findings, or a whole file; unused ones are reported."""

import textwrap

from cuda2npu import suppress
from cuda2npu.engine import Engine
from cuda2npu.rulebook import load_rulebook

ENGINE = Engine(load_rulebook())


def migrate(source):
    return ENGINE.migrate(textwrap.dedent(source))


def test_ignore_all_rules_on_a_line():
    result = migrate('''\
        import torch
        a = t.cuda()  # cuda2npu: ignore
        b = t.cuda()
        ''')
    assert result.code == "import torch\nimport torch_npu\na = t.cuda()  # cuda2npu: ignore\nb = t.npu()\n"
    assert result.findings == []


def test_ignore_one_rule_keeps_the_others():
    result = migrate('''\
        import torch
        x = torch.device("cuda") if torch.cuda.is_available() else None  # cuda2npu: ignore[NPU101]
        ''')
    assert result.code.splitlines()[-1] == (
        'x = torch.device("cuda") if torch.npu.is_available() else None  # cuda2npu: ignore[NPU101]')


def test_ignored_finding_is_not_reported():
    result = migrate('''\
        import torch
        torch.cuda.cudart()  # cuda2npu: ignore[NPU291]
        ''')
    assert result.findings == [] and not result.changed


def test_nothing_left_means_no_import():
    source = "import torch\nx = t.cuda()  # cuda2npu: ignore\n"
    result = ENGINE.migrate(source)
    assert result.code == source and result.edits == []


def test_skip_file():
    source = "# cuda2npu: skip-file\nimport torch\nx = t.cuda()\ntorch.cuda.cudart()\n"
    result = ENGINE.migrate(source)
    assert result.code == source and result.edits == [] and result.findings == []


def test_directives_inside_strings_are_not_suppressions():
    source = ('"""How to opt out:\n\n# cuda2npu: skip-file\n"""\nimport torch\n'
              'HELP = "add  # cuda2npu: ignore  to a line"\nx = t.cuda()\n'
              's = """\n  # cuda2npu: ignore[NPU102]\n"""; y = t.cuda()\n')
    result = ENGINE.migrate(source)
    assert result.code.count("t.npu()") == 2 and result.findings == []
    unclosed = suppress.scan("import torch\nx = t.cuda()  # cuda2npu: ignore[NPU102]\ny = (\n")  # not tokenizable
    assert unclosed.lines == {2: frozenset({"NPU102"})} and unclosed.columns == {2: 15}


def test_unused_suppressions_are_reported():
    result = migrate('''\
        import torch
        a = 1  # cuda2npu: ignore
        b = t.cuda()  # cuda2npu: ignore[NPU999]
        ''')
    assert [(f.rule, f.line, f.col) for f in result.findings] == [("C2N100", 2, 8), ("C2N100", 3, 15)]
    assert result.code.splitlines()[-1] == "b = t.npu()  # cuda2npu: ignore[NPU999]"


def test_suppression_works_when_spliced():
    source = "import torch\n\nA = 1\n\nx = t.cuda()  # cuda2npu: ignore\ny = t.cuda()\n"
    assert ENGINE.migrate(source).code == "import torch\nimport torch_npu\n\nA = 1\n\nx = t.cuda()  # cuda2npu: ignore\ny = t.npu()\n"


def test_c2n100_can_be_ignored_selected_and_explained(cli, tmp_path):
    path = tmp_path / "a.py"
    source = ("import torch\nx = 1  # cuda2npu: ignore\ny = torch.cuda.synchronize()  # cuda2npu: ignore\n"
              "z = t.cuda()  # cuda2npu: ignore[NPU102]\nw = 2  # cuda2npu: ignore[NPU201]\n")
    path.write_text(source)

    def unused(*args) -> list[str]:
        result = cli("migrate", "--check", "--no-config", *args, path)
        assert result.exit_code in (0, 1), result.stderr
        return [line.split(" ")[0].rsplit(":", 2)[1] for line in result.stderr.splitlines() if " C2N100 " in line]

    assert unused() == ["2", "5"]
    assert unused("--ignore", "C2N100") == []
    # rules left out: a blanket suppression, or one naming only left-out rules, cannot be judged
    assert unused("--select", "NPU1") == []
    assert unused("--select", "NPU1,C2N100") == []
    assert unused("--select", "NPU2,C2N100") == ["5"]  # it names a selected rule that does not act there
    explained = cli("explain", "c2n100")
    assert explained.exit_code == 0 and explained.stdout.startswith("C2N100 (suppressions, warning)")
    assert cli("explain", "npu330").stdout.startswith("NPU330 (context, warning)")
