"""A restricted evaluator for gateway conditions and `required_when` rules.

SpiffWorkflow evaluates expressions with plain ``eval``; a diagram is user input, so
Alur parses every expression into an AST and walks an allow-list instead: comparisons,
boolean logic, literals and names of task data. No calls, attributes, subscripts,
comprehensions or imports exist in this language.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

_COMPARE = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_MAX_LENGTH = 500


class ConditionError(ValueError):
    """The expression is not in the allowed language, or cannot be evaluated."""


@functools.lru_cache(maxsize=1024)
def parse(expression: str) -> ast.Expression:
    """Parse and check an expression; raise ConditionError naming what is not allowed.

    Cached: a diagram's few expressions are evaluated at every gateway; the trees are only read."""
    text = (expression or "").strip()
    if not text:
        raise ConditionError("ekspresi kosong")
    if len(text) > _MAX_LENGTH:
        raise ConditionError(f"ekspresi lebih dari {_MAX_LENGTH} karakter")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"sintaks tidak valid: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ConditionError(f"tidak diizinkan dalam kondisi: {type(node).__name__} ({_describe(node)})")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ConditionError(f"nama '{node.id}' tidak diizinkan")
        if isinstance(node, ast.Constant) and not isinstance(node.value, str | int | float | bool | type(None)):
            raise ConditionError("literal tidak diizinkan")
    return tree


def names(expression: str) -> set[str]:
    """The data names an expression refers to (True/False/None are literals)."""
    return {n.id for n in ast.walk(parse(expression)) if isinstance(n, ast.Name)} - {"True", "False", "None"}


def evaluate(expression: str, data: Mapping[str, Any]) -> Any:
    """Evaluate a checked expression over task data; unknown names are None."""
    return _eval(parse(expression).body, data)


_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple,
    *_COMPARE.keys(),
)


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        return "pemanggilan fungsi"
    if isinstance(node, ast.Attribute):
        return "akses atribut"
    if isinstance(node, ast.Subscript):
        return "akses indeks"
    return "konstruksi ini"


def _eval(node: ast.AST, data: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return {"True": True, "False": False, "None": None}.get(node.id, data.get(node.id))
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, data) for e in node.elts]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, data)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, data)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, data)
        if isinstance(node.op, ast.Not):
            return not value
        try:
            return -value if isinstance(node.op, ast.USub) else +value
        except TypeError as exc:
            raise ConditionError(str(exc)) from None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, data)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, data)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise ConditionError(str(exc)) from None
            left = right
        return True
    raise ConditionError(f"tidak diizinkan: {type(node).__name__}")


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow script engine that evaluates with the allow-list and runs no scripts."""

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        data = dict(task.data)
        if external_context:
            data.update(external_context)
        return evaluate(expression, data)

    def execute(self, task: Any, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        raise ConditionError("skrip tidak diizinkan di Alur")
