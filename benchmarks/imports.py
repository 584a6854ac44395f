"""filmcolor's import graph: its cycles, who imports the runners, and who imports
Ray. Imports inside functions count; those under ``if TYPE_CHECKING:`` do not
(they never run).

    python benchmarks/imports.py
"""

from __future__ import annotations

import ast
import sys

from common import REPO

ROOT = REPO / "filmcolor"


def modules() -> dict[str, object]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        name = ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = p
    return mods


def targets(mods: dict, cur: str, node: ast.AST) -> list[str]:
    pkg = cur if mods[cur].name == "__init__.py" else cur.rpartition(".")[0]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = pkg
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target for a in node.names]


def graph(mods: dict) -> dict[str, set[str]]:
    out = {}
    for name, p in mods.items():
        tree = ast.parse(p.read_text())
        typing_only = {id(sub) for node in ast.walk(tree)
                       if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
                       for sub in ast.walk(node)}
        out[name] = {t for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                     and id(node) not in typing_only for t in targets(mods, name, node) if t in mods and t != name}
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in g:
        if v not in index:
            visit(v)
    return found


def main() -> None:
    mods = modules()
    g = graph(mods)
    print("cycles:", cycles(g) or "none")
    for target in ("filmcolor.runners", "filmcolor.cluster"):
        print(f"modules importing {target}:", ", ".join(sorted(m for m, d in g.items() if target in d)))
    ray = sorted(n for n, p in mods.items()
                 if any(isinstance(x, (ast.Import, ast.ImportFrom)) and any(t == "ray" or t.startswith("ray.")
                        for t in ([a.name for a in x.names] if isinstance(x, ast.Import) else [x.module or ""]))
                        for x in ast.walk(ast.parse(p.read_text()))))
    print("modules importing ray:", ", ".join(ray))


if __name__ == "__main__":
    main()
