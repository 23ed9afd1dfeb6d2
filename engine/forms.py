"""Checking submitted data against a step's form, as the diagram defines it.

The engine enforces the form (types, enum values, required and `required_when`), not
only the UI. Values are stored as JSON-safe types: dates stay ISO strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from engine import conditions
from engine.diagram import FormField
from engine.errors import InvalidData

MAX_STRING = 10_000  # notes (catatan, keterangan)
MAX_LINE = 500  # any other text field, unless the diagram says `maxlength`
DEFAULT_MAXLENGTH = {"perihal": 300, "instansi_pemohon": 200}


def max_length(field: FormField) -> int:
    """The longest text a field takes: the diagram's `maxlength`, else a default by its kind."""
    limit = field.constraint("maxlength")
    if limit and limit.isdigit():
        return int(limit)
    if field.id in DEFAULT_MAXLENGTH:
        return DEFAULT_MAXLENGTH[field.id]
    return MAX_STRING if is_note(field) else MAX_LINE


def is_note(field: FormField) -> bool:
    """A free-text note: shown as a text area, wraps, long."""
    return field.id.startswith(("catatan", "keterangan"))
MAX_LISTED = 5  # unknown names named in a refusal; the rest are counted


def _convert(field: FormField, value: Any) -> Any:
    """Return the value in its stored type, or raise InvalidData naming the field."""
    label = f"'{field.label}' ({field.id})"
    if field.type == "enum":
        options = [o for o, _ in field.options]
        if value not in options:
            raise InvalidData(f"{label} harus salah satu dari: {', '.join(options)}", field.id, "not_in_options",
                              {"options": options})
        return value
    if field.type == "boolean":
        if isinstance(value, bool):
            return value
        if value in ("true", "on", "1", "ya"):
            return True
        if value in ("false", "off", "0", "tidak"):
            return False
        raise InvalidData(f"{label} harus benar/salah", field.id, "bad_type", {"type": "boolean"})
    if field.type == "long":
        if isinstance(value, bool):
            raise InvalidData(f"{label} harus bilangan bulat", field.id, "bad_type", {"type": "long"})
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InvalidData(f"{label} harus bilangan bulat", field.id, "bad_type", {"type": "long"}) from None
        _bounds(field, number, label)
        return number
    if not isinstance(value, str):
        raise InvalidData(f"{label} harus berupa teks", field.id, "bad_type", {"type": "string"})
    text = value.strip()
    if len(text) > max_length(field):
        raise InvalidData(f"{label} lebih dari {max_length(field)} karakter", field.id, "too_long",
                          {"max": max_length(field)})
    if field.type == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidData(f"{label} harus tanggal dengan format TTTT-BB-HH", field.id, "bad_type",
                              {"type": "date"}) from None
    for name, check in (("minlength", lambda n: len(text) >= n), ("maxlength", lambda n: len(text) <= n)):
        limit = field.constraint(name)
        if limit and limit.isdigit() and not check(int(limit)):
            raise InvalidData(f"{label}: panjang harus {'minimal' if name == 'minlength' else 'maksimal'} "
                              f"{limit} karakter", field.id, "too_short" if name == "minlength" else "too_long",
                              {name[:3]: int(limit)})
    return text


def _bounds(field: FormField, number: int, label: str) -> None:
    for name, ok in (("min", lambda n: number >= n), ("max", lambda n: number <= n)):
        limit = field.constraint(name)
        if limit and limit.lstrip("-").isdigit() and not ok(int(limit)):
            raise InvalidData(f"{label} harus {'≥' if name == 'min' else '≤'} {limit}", field.id,
                              "too_small" if name == "min" else "too_big", {name: int(limit)})


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def validate(fields: Iterable[FormField], submitted: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
    """Every field of the form, converted; unknown names refused; required checked unless partial."""
    fields = list(fields)
    known = {f.id for f in fields}
    unknown = sorted(set(submitted) - known)
    if unknown:
        more = f" (dan {len(unknown) - MAX_LISTED} lagi)" if len(unknown) > MAX_LISTED else ""
        raise InvalidData(f"field tidak dikenal: {', '.join(k[:80] for k in unknown[:MAX_LISTED])}{more}",
                          unknown[0][:80], "unknown_field",
                          {"fields": [k[:80] for k in unknown[:MAX_LISTED]], "count": len(unknown)})
    values: dict[str, Any] = {}
    for field in fields:
        raw = submitted.get(field.id)
        values[field.id] = None if _empty(raw) else _convert(field, raw)
    if partial:
        return {k: v for k, v in values.items() if k in submitted}
    for field in fields:
        if values[field.id] is not None:
            continue
        if field.required:
            raise InvalidData(f"'{field.label}' wajib diisi", field.id, "required")
        if field.required_when and conditions.evaluate(field.required_when, values):
            raise InvalidData(f"'{field.label}' wajib diisi bila {field.required_when}", field.id, "required_when",
                                  {"condition": field.required_when})
    return values


def problems(fields: Iterable[FormField], submitted: Mapping[str, Any]) -> list[InvalidData]:
    """Every problem of a submitted form at once (validate() stops at the first), for showing them together."""
    fields = list(fields)
    found: list[InvalidData] = []
    values: dict[str, Any] = {}
    for field in fields:
        raw = submitted.get(field.id)
        try:
            values[field.id] = None if _empty(raw) else _convert(field, raw)
        except InvalidData as exc:
            found.append(exc)
            values[field.id] = None
    wrong = {p.field for p in found}
    for field in fields:
        if values[field.id] is not None or field.id in wrong:
            continue
        if field.required:
            found.append(InvalidData(f"'{field.label}' wajib diisi", field.id, "required"))
        elif field.required_when:
            try:
                needed = conditions.evaluate(field.required_when, values)
            except conditions.ConditionError:
                needed = False  # the engine's own check at completion will say it plainly
            if needed:
                found.append(InvalidData(f"'{field.label}' wajib diisi bila {field.required_when}", field.id,
                                         "required_when", {"condition": field.required_when}))
    return found
