"""The canonical text of the syntax tree: an AST printed back as rule text.

Takes a :class:`~engine.lang.syntax.Program` (or an expression); gives its canonical layout — one
statement per line, ``when``/``unless`` clauses indented under their verdict, long ``and``/``or``
chains broken one operand per line, operators spaced. Comments found in the source are kept: one
written after code at the end of the line that prints that code, one on a line of its own above the
statement it was written in or before. ``parse(format_program(p)) == p``, and printing printed text
changes nothing. ``xueji fmt`` (:mod:`engine.tools.fmt`) writes it back into the YAML files; the
explanation (:mod:`engine.run.explain`) quotes expressions with it.
"""

from __future__ import annotations

from engine.lang import syntax as s
from engine.lang.parser import parse_program

WIDTH = 100

# precedence: a node printed where a higher level is required gets parentheses
_IF, _OR, _AND, _NOT, _TEST, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(10)


def _level(e: s.Expr) -> int:
    match e:
        case s.If():
            return _IF
        case s.Binary(op="or"):
            return _OR
        case s.Binary(op="and"):
            return _AND
        case s.Not():
            return _NOT
        case (
            s.Binary(op="=" | "!=" | "<" | "<=" | ">" | ">=")
            | s.Member()
            | s.Exists()
            | s.Missing()
            | s.By()
            | s.Overlaps()
        ):
            return _TEST
        case s.Binary(op="+" | "-"):
            return _SUM
        case s.Binary(op="*"):
            return _PRODUCT
        case s.Neg():
            return _UNARY
        case s.Attr() | s.Call():
            return _POSTFIX
        case _:
            return _ATOM


def _unit(d: s.Duration) -> str:
    word = {
        "days": "day",
        "weeks": "week",
        "months": "month",
        "years": "year",
        "working_days": "working day",
    }[d.unit]
    text = f"{d.amount} {word if d.amount == 1 else word + 's'}"
    return f"{text} rounded {d.rounding}" if d.rounding else text


def _str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def expr(e: s.Expr, need: int = _IF) -> str:
    """One line of canonical text for an expression, parenthesised where ``need`` demands it."""
    text = _expr(e)
    return f"({text})" if _level(e) < need else text


def _expr(e: s.Expr) -> str:
    match e:
        case s.IntLit(value=v):
            return str(v)
        case s.StrLit(value=v):
            return _str(v)
        case s.DateLit(value=v):
            return v.isoformat()
        case s.BoolLit(value=v):
            return "true" if v else "false"
        case s.NoneLit():
            return "none"
        case s.Duration():
            return _unit(e)
        case s.Name(id=name):
            return name
        case s.Attr(obj=o, name=name):
            return f"{expr(o, _POSTFIX)}.{name}"
        case s.SetLit(items=items):
            return "{" + ", ".join(expr(i) for i in items) + "}"
        case s.Neg(operand=o):
            return f"-{expr(o, _UNARY)}"
        case s.Not(operand=o):
            return f"not {expr(o, _NOT)}"
        case s.Binary(op=op, left=a, right=b):
            lvl = _level(e)
            if lvl == _TEST:
                return f"{expr(a, _SUM)} {op} {expr(b, _SUM)}"
            return f"{expr(a, lvl)} {op} {expr(b, lvl + 1)}"
        case s.Member(value=v, collection=c, negated=neg):
            return f"{expr(v, _SUM)} {'not in' if neg else 'in'} {expr(c, _SUM)}"
        case s.Exists(value=v):
            return f"{expr(v, _SUM)} exists"
        case s.Missing(value=v):
            return f"{expr(v, _SUM)} is missing"
        case s.By(act=a, due=d):
            return f"{expr(a, _SUM)} by {expr(d, _SUM)}"
        case s.Overlaps(left=a, right=b):
            return f"{expr(a, _SUM)} overlaps {expr(b, _SUM)}"
        case s.If(cond=c, then=a, orelse=b):
            return f"if {expr(c)} then {expr(a)} else {expr(b)}"
        case s.Call(fn=fn, args=args):
            return f"{fn}({', '.join(expr(a) for a in args)})"
        case s.Aggregate(kind=kind, var=var, collection=coll, where=where, body=body):
            text = f"{kind}({var} in {expr(coll, _SUM)}"
            if where is not None:
                text += f" where {expr(where)}"
            if body is not None:
                text += f": {expr(body)}"
            return text + ")"
    raise AssertionError(f"unhandled node {e!r}")


def _chain(e: s.Expr, op: str) -> list[s.Expr]:
    """The operands of a left-leaning chain ``a op b op c``."""
    if isinstance(e, s.Binary) and e.op == op:
        return [*_chain(e.left, op), e.right]
    return [e]


def _lines(e: s.Expr, indent: str) -> list[tuple[str, int]]:
    """A condition as lines: on one line if it fits, else one top-level operand per line; each line
    with the source offset where what it prints ends (a trailing comment after it stays on it)."""
    one = expr(e)
    if len(indent) + len(one) <= WIDTH or not (isinstance(e, s.Binary) and e.op in ("and", "or")):
        return [(one, e.pos[1])]
    op = e.op
    operands = _chain(e, op)
    need = _OR if op == "or" else _AND
    first, *rest = operands
    out = [(expr(first, need), first.pos[1])]
    out += [(f"{op} {expr(x, need + 1)}", x.pos[1]) for x in rest]
    return out


def _statement(st: s.Statement) -> list[tuple[str, int]]:
    """A statement's lines, each with the source offset where what it prints ends."""
    end = st.pos[1]
    match st:
        case s.For(var=var, collection=c):
            return [(f"for {var} in {expr(c, _SUM)}", end)]
        case s.Let(name=name, expr=value, params=params):
            head = f"let {name}"
            if params is not None:
                head += "(" + ", ".join(f"{p.name}: {p.type_name}" for p in params) + ")"
            body = _lines(value, "    ")
            return [(f"{head} = {body[0][0]}", body[0][1]), *(("    " + line, at) for line, at in body[1:])]
        case s.Deadline(name=name, expr=value):
            return [(f"deadline {name} = {expr(value)}", end)]
        case s.Arises(expr=value):
            return [(f"arises {expr(value)}", end)]
        case s.Verdict(kind=kind, cond=cond, clauses=clauses):
            body = _lines(cond, "    ")
            out = [(f"{kind} {body[0][0]}", body[0][1]), *(("    " + line, at) for line, at in body[1:])]
            for clause in clauses:
                cl = _lines(clause.expr, "      ")
                out.append((f"  {clause.kind} {cl[0][0]}", cl[0][1]))
                out += [("      " + line, at) for line, at in cl[1:]]
            return out
    raise AssertionError(f"unhandled statement {st!r}")


def _comments(text: str) -> list[tuple[int, str]]:
    """(offset, comment text) for every `#` comment outside strings."""
    out: list[tuple[int, str]] = []
    i, in_string = 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "#":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            out.append((i, text[i:end].rstrip()))
            i = end
            continue
        i += 1
    return out


def _trailing(source: str, offset: int) -> int | None:
    """For a comment at ``offset`` written after code on its line, the offset of the last character of
    that code (where the comment is anchored); None for a comment on a line of its own."""
    start = source.rfind("\n", 0, offset) + 1
    before = source[start:offset].rstrip()
    return start + len(before) - 1 if before.strip() else None


def format_program(prog: s.Program, source: str = "") -> str:
    """Canonical text of a rule with the comments found in ``source``: a comment written after code
    stays at the end of the line that prints that code; a comment on a line of its own goes above the
    statement it was written in or before."""
    comments = _comments(source)
    trailing: dict[int, list[str]] = {}  # statement index → its trailing comments, by line
    placed: dict[tuple[int, int], str] = {}  # (statement index, line index) → the comment kept on it
    own_line: list[tuple[int, str]] = []
    for offset, text in comments:
        anchor = _trailing(source, offset)
        where = next(
            (i for i, st in enumerate(prog.statements) if anchor is not None and st.pos[0] <= anchor < st.pos[1]),
            None,
        )
        if where is None:
            own_line.append((offset, text))
            continue
        assert anchor is not None
        printed = _statement(prog.statements[where])
        at = next((k for k, (_, end) in enumerate(printed) if end > anchor), len(printed) - 1)
        if (where, at) in placed:  # two comments end up on one line: the later one goes above
            trailing.setdefault(where, []).append(text)
        else:
            placed[where, at] = text
    lines: list[str] = []
    for i, st in enumerate(prog.statements):
        # a comment on its own line belongs to the first statement that ends after it
        while own_line and own_line[0][0] < st.pos[1]:
            lines.append(own_line.pop(0)[1])
        lines += trailing.get(i, [])
        for k, (line, _) in enumerate(_statement(st)):
            comment = placed.get((i, k))
            lines.append(f"{line}  {comment}" if comment is not None else line)
    lines += [c for _, c in own_line]
    return "\n".join(lines) + "\n"


def format_rule_text(text: str) -> str:
    return format_program(parse_program(text), text)
