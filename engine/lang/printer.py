"""The canonical text of the syntax tree: an AST printed back as rule text.

Takes a :class:`~engine.lang.syntax.Program` (or an expression); gives its canonical layout — one
statement per line, ``when``/``unless`` clauses indented under their verdict, long ``and``/``or``
chains broken one operand per line, operators spaced. Comments found in the source are kept, each above
the statement it was written in or before. ``parse(format_program(p)) == p``, and printing printed text
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


def _lines(e: s.Expr, indent: str) -> list[str]:
    """A condition as lines: on one line if it fits, else one top-level operand per line."""
    one = expr(e)
    if len(indent) + len(one) <= WIDTH or not (isinstance(e, s.Binary) and e.op in ("and", "or")):
        return [one]
    op = e.op
    operands = _chain(e, op)
    need = _OR if op == "or" else _AND
    first, *rest = operands
    out = [expr(first, need)]
    out += [f"{op} {expr(x, need + 1)}" for x in rest]
    return out


def _statement(st: s.Statement) -> list[str]:
    match st:
        case s.For(var=var, collection=c):
            return [f"for {var} in {expr(c, _SUM)}"]
        case s.Let(name=name, expr=value, params=params):
            head = f"let {name}"
            if params is not None:
                head += "(" + ", ".join(f"{p.name}: {p.type_name}" for p in params) + ")"
            body = _lines(value, "    ")
            return [f"{head} = {body[0]}", *("    " + line for line in body[1:])]
        case s.Deadline(name=name, expr=value):
            return [f"deadline {name} = {expr(value)}"]
        case s.Arises(expr=value):
            return [f"arises {expr(value)}"]
        case s.Verdict(kind=kind, cond=cond, clauses=clauses):
            body = _lines(cond, "    ")
            out = [f"{kind} {body[0]}", *("    " + line for line in body[1:])]
            for clause in clauses:
                cl = _lines(clause.expr, "      ")
                out.append(f"  {clause.kind} {cl[0]}")
                out += ["      " + line for line in cl[1:]]
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


def format_program(prog: s.Program, source: str = "") -> str:
    """Canonical text of a rule; comments found in ``source`` go above the statement they belong to."""
    comments = _comments(source)
    lines: list[str] = []
    for st in prog.statements:
        # a comment belongs to the first statement that ends after it (a trailing comment moves up)
        while comments and comments[0][0] < st.pos[1]:
            lines.append(comments.pop(0)[1])
        lines += _statement(st)
    lines += [c for _, c in comments]
    return "\n".join(lines) + "\n"


def format_rule_text(text: str) -> str:
    return format_program(parse_program(text), text)
