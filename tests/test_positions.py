"""The counted positions are LibCST's PositionProvider's, node for node."""

from pathlib import Path

import libcst as cst
import pytest

from cuda2npu.positions import _from_provider, spans

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ODD = ["x = (1,\r\n     2)\r\n", "if a:\n\tb = f(  c ,d )  # c\n\n\n", "@d\nclass A(B):\n    '''doc\n    ''';y=1\n",
       "", "\n", "x=1", "async def f():\n    async with a as (b, c): await g(*h, **i)\n", "l = [\n    1,  # one\n]\n"]


@pytest.mark.parametrize("source", ODD + [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*/*.py"))])
def test_every_node_has_the_position_of_libcsts_provider(source):
    module = cst.parse_module(source)
    nodes: list[cst.CSTNode] = []

    class Every(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            nodes.append(node)
            return True

    module.visit(Every())
    assert spans(module, nodes) == _from_provider(module, nodes)
