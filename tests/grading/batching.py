"""Which Wrong cases of a round trip may share one submission.

Every submission executes its notebook from the top (about 2.5 s of kernel start and
imports before the first cell), so one submission per wrong answer is most of the round
trip's time. Two wrong answers may share a submission only when neither can change what
the other's test cells see. That is decided here from the cells' source with ``ast``,
conservatively (when unsure: separate submissions):

- a wrong answer *taints* the names its exercise cell binds (those of the wrong code and
  of the solution);
- a later cell that reads a tainted name is tainted: the names it binds, and the names of
  notebook objects it reads (a tainted cell may mutate them, ``fit(model)``), become
  tainted too; a cell that is not valid Python taints everything after it;
- two cases conflict when either one's taint reaches a cell the other must fail, or when
  they answer the same exercise.

Not seen by this analysis: global state such as a random generator advanced by a wrong
answer; test cells seed their own generators, so a test cannot depend on it.
"""

from __future__ import annotations

import ast
import builtins
import re

_MAGIC = re.compile(r"^\s*[%!]")
EVERYTHING = frozenset({"*"})  # "could be any name"


def _parse(source: str) -> ast.Module | None:
    text = "\n".join("pass" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def binds(source: str) -> frozenset[str]:
    """Module-level names a cell binds or mutates (``x = ...``, ``def f``, ``x[i] = ...``)."""
    tree = _parse(source)
    if tree is None:
        return EVERYTHING
    names: set[str] = set()

    def target(node):
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                target(elt)

    def visit(stmts):
        for st in stmts:
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(st.name)
            elif isinstance(st, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in st.names)
            elif isinstance(st, ast.Assign):
                for t in st.targets:
                    target(t)
            elif isinstance(st, (ast.AnnAssign, ast.AugAssign)):
                target(st.target)
            elif isinstance(st, (ast.For, ast.AsyncFor)):
                target(st.target)
            elif isinstance(st, (ast.With, ast.AsyncWith)):
                for item in st.items:
                    if item.optional_vars is not None:
                        target(item.optional_vars)
            elif isinstance(st, ast.Delete):
                for t in st.targets:
                    target(t)
            for field in ("body", "orelse", "finalbody", "handlers"):
                if not isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(getattr(st, field, []) or [])
            if isinstance(st, ast.ExceptHandler) and st.name:
                names.add(st.name)
        for node in ast.walk(ast.Module(body=list(stmts), type_ignores=[])):
            if isinstance(node, ast.NamedExpr):
                target(node.target)
            elif isinstance(node, ast.Global):
                names.update(node.names)

    visit(tree.body)
    return frozenset(names)


def _loads(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _globals_of(fn) -> frozenset[str]:
    """Names a function or class body reads from the module when it runs."""
    local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    local |= {a.arg for n in ast.walk(fn) if isinstance(n, ast.arguments)
              for a in [*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg] if a}
    local |= {n.name for n in ast.walk(fn) if n is not fn and isinstance(
        n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    declared = {g for n in ast.walk(fn) if isinstance(n, ast.Global) for g in n.names}
    return frozenset(_loads(fn) - (local - declared))


def _stored(nodes) -> set[str]:
    out: set[str] = set()
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
            elif isinstance(n, ast.arg):
                out.add(n.arg)
    return out


def _free(stmts, bound: set[str]) -> set[str]:
    """Names ``stmts`` read before binding them, statement by statement. Names bound inside
    a loop, branch or ``try`` count as bound only inside it (it may not run)."""
    bound, used = set(bound), set()
    for st in stmts:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            used |= _globals_of(st) - bound
            bound.add(st.name)
        elif isinstance(st, (ast.For, ast.AsyncFor)):
            used |= _loads(st.iter) - bound
            used |= _free(st.body, bound | _stored([st.target])) | _free(st.orelse, bound)
        elif isinstance(st, (ast.While, ast.If)):
            used |= _loads(st.test) - bound
            used |= _free(st.body, bound) | _free(st.orelse, bound)
        elif isinstance(st, (ast.With, ast.AsyncWith)):
            used |= set().union(*(_loads(i.context_expr) for i in st.items)) - bound
            used |= _free(st.body, bound | _stored(
                [i.optional_vars for i in st.items if i.optional_vars is not None]))
        elif isinstance(st, ast.Try):
            used |= _free(st.body, bound) | _free(st.orelse, bound) | _free(st.finalbody, bound)
            for h in st.handlers:
                used |= (_loads(h.type) - bound if h.type else set())
                used |= _free(h.body, bound | ({h.name} if h.name else set()))
        else:  # a simple statement; comprehension and lambda variables are its own
            inner = _stored(n for n in ast.walk(st) if isinstance(n, (ast.comprehension, ast.Lambda)))
            used |= _loads(st) - bound - inner
            bound |= binds(ast.unparse(st))
    return used


def reads(source: str) -> frozenset[str]:
    """Names a cell reads before binding them itself, function bodies included (they may
    be called in the cell)."""
    tree = _parse(source)
    if tree is None:
        return EVERYTHING
    return frozenset(_free(tree.body, set()))


def functions(source: str) -> dict[str, frozenset[str]]:
    """{name: module names it reads} for each function or class a cell defines."""
    tree = _parse(source)
    if tree is None:
        return {}
    return {st.name: _globals_of(st) for st in tree.body
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def imported(source: str) -> frozenset[str]:
    tree = _parse(source)
    if tree is None:
        return frozenset()
    return frozenset((a.asname or a.name).split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names)


def reach(cells: list[tuple[str, list[str]]], start: int) -> set[str]:
    """Grade ids of the cells after ``cells[start]`` that a change of that cell can affect.

    ``cells``: (grade_id or "", [sources]) in notebook order; a cell's sources are the
    solution and every wrong answer to it (any of them may be in the submission).
    """
    def union(fn, sources):
        return frozenset().union(*(fn(s) for s in sources))

    notebook_names = set().union(*(union(binds, s) for _, s in cells)) - set(dir(builtins))
    modules = set().union(*(union(imported, s) for _, s in cells))
    mutable = notebook_names - modules
    funcs: dict[str, set[str]] = {}
    for _, sources in cells:
        for source in sources:
            for name, names in functions(source).items():
                funcs.setdefault(name, set()).update(names)

    def close(names: set[str]) -> set[str]:
        """A function reading a tainted module name at call time is tainted too."""
        grew = True
        while grew:
            grew = False
            for name, needs in funcs.items():
                if name not in names and needs & names:
                    names.add(name)
                    grew = True
        return names

    tainted = close(set(union(binds, cells[start][1])))
    affected: set[str] = set()
    for gid, sources in cells[start + 1:]:
        used = union(reads, sources)
        if "*" in tainted or "*" in used or used & tainted:
            affected.add(gid)
            tainted = close(tainted | union(binds, sources) | (used & mutable))
    return affected


def batches(cases, cells: list[tuple[str, str]]) -> list[list[int]]:
    """Indices of ``cases`` (each with ``.cell``, ``.code``, ``.fails``) grouped so that no
    two cases in a group conflict; greedy, in the order given. ``cells``: (grade_id or "",
    source) of the notebook's code cells in order, the solution filled in."""
    variants = [(gid, [src] + [c.code for c in cases if gid and c.cell == gid])
                for gid, src in cells]
    position = {gid: i for i, (gid, _) in enumerate(cells) if gid}
    reaches = [reach(variants, position[c.cell]) for c in cases]

    def conflict(i, j):
        a, b = cases[i], cases[j]
        return a.cell == b.cell or reaches[i] & set(b.fails) or reaches[j] & set(a.fails)

    groups: list[list[int]] = []
    for i in range(len(cases)):
        for group in groups:
            if not any(conflict(i, j) for j in group):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups
