"""The package's layers, checked on the source: no module imports a layer above its own.

core < io < llm, datasets, models < stages < export, report < engines < cli. Lazy imports inside functions
count too (a registry names what it loads as "module:Class" strings, which are not imports). The
test doubles in `vidcurate.testing` may use the runtime layers below the engines; nothing in the
runtime imports them. No module is over 400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "vidcurate"
LAYER = {"core": 0, "io": 1, "llm": 2, "datasets": 2, "models": 2, "stages": 3, "export": 4, "report": 4, "testing": 4}
LAYER |= {"engines": 5, "cli": 6, "demo": 6, "__init__": 0, "__main__": 6}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "vidcurate" or len(parts) < 2:
        return None
    return LAYER.get(parts[1])


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if layer_of(f"{node.module}.{a.name}") is not None}
    return out


def test_no_layer_imports_a_higher_one() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        me = layer_of(".".join(rel.parts))
        assert me is not None, f"{rel}: module outside the known layers"
        for target in imports(path):
            theirs = layer_of(target)
            if theirs is None:
                continue
            runtime = not str(rel).startswith(("vidcurate/testing", "vidcurate/demo"))
            if theirs > me or (runtime and target.startswith("vidcurate.testing")):
                wrong.append(f"{rel} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_no_module_is_over_400_lines() -> None:
    long = [f"{p.relative_to(SRC)}: {n}" for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long
