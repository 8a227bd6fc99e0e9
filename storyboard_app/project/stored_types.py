"""Values of the wrong kind in the project database: one message naming the row and field.

SQLite lets any column hold any kind of value, so a project edited by another
tool can hold text where a number belongs (a width of ``'wide'``, a position
of ``''``). Every row is checked as it is loaded, against its column's type,
before any code compares or adds with the value; the error names what holds
it, as a typed-in value would be named. Values of the right kind are then
checked for their range where they are read (durations, camera moves,
settings).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Dialect, Float, Integer, String, TypeDecorator, inspect
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value

from storyboard_app.project.damage import DAMAGE_LOG_KEY
from storyboard_app.project.errors import ValidationError

HINT_STORED = (
    "The project file was changed outside Storyboard or is damaged; "
    "restore it from a backup, or set that value again in the app."
)
_WHAT = {
    "scenes": "panel id {id}",
    "takes": "take {id}",
    "characters": "character id {id}",
    "transitions": "transition {id}",
    "project_settings": "the project settings",
}
_KINDS: list[tuple[type, tuple[type, ...], str]] = [
    (Boolean, (bool,), "true or false"),
    (Integer, (int,), "a whole number"),
    (Float, (int, float), "a number"),
    (String, (str,), "text"),
]


# Read, with their own messages and range checks, where they are turned into records.
_CHECKED_ELSEWHERE = {("scenes", "duration")}


def check_stored_types(target: Any, _context: object = None, _attrs: object = None) -> None:
    """SQLAlchemy ``load`` hook: refuse a row holding a value its column cannot hold.

    Where the session tolerates damage (the app opening a project to repair it,
    see :mod:`damage`), the value is noted and read as the column's default
    instead; nothing is written.
    """
    values = target.__dict__
    for key, python_types, words, bool_ok, column in _plan(type(target)):
        value = values.get(key)
        if value is None or (
            isinstance(value, python_types) and (bool_ok or not isinstance(value, bool))
        ):
            continue
        table = getattr(target, "__tablename__", type(target).__name__)
        error = _refusal(target, table, key, value, words)
        session = object_session(target)
        log = session.info.get(DAMAGE_LOG_KEY) if session is not None else None
        if log is None:
            raise error
        log.note(error.message)
        set_committed_value(target, key, _stand_in(column))


Check = tuple[str, tuple[type, ...], str, bool, Any]
_PLANS: dict[type, list[Check]] = {}


def _plan(model: type) -> list[Check]:
    """What to check in each row of ``model``, worked out once per class: every row of a
    thousand-panel story is checked as it loads, so the per-row work is kept to the values.

    Each check: the attribute, the Python types it may hold, those in words, and
    whether a bool is of its kind.
    """
    plan = _PLANS.get(model)
    if plan is None:
        table = getattr(model, "__tablename__", model.__name__)
        plan = []
        for prop in inspect(model).column_attrs:
            column = prop.columns[0]
            kind = _kind_of(column.type)
            if kind is not None and (table, prop.key) not in _CHECKED_ELSEWHERE:
                sql_type, python_types, words = kind
                plan.append((prop.key, python_types, words, sql_type is Boolean, column))
        _PLANS[model] = plan
    return plan


def _kind_of(column_type: object) -> tuple[type, tuple[type, ...], str] | None:
    return next((kind for kind in _KINDS if isinstance(column_type, kind[0])), None)


def _stand_in(column: Any) -> object:
    """What a damaged value reads as: the column's default, else an empty value of its kind."""
    arg = getattr(column.default, "arg", None)
    if arg is not None and not callable(arg):
        return arg
    if column.nullable:
        return None
    empty: dict[type, object] = {Boolean: False, Integer: 0, Float: 0.0, String: ""}
    return next((v for t, v in empty.items() if isinstance(column.type, t)), None)


def _refusal(target: Any, table: str, field: str, value: object, words: str) -> ValidationError:
    position = target.__dict__.get("position")
    if table == "scenes" and isinstance(position, int) and not isinstance(position, bool):
        what = f"panel {position + 1}"
    else:
        what = _WHAT.get(table, table + " row {id}").format(id=target.__dict__.get("id", "?"))
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return ValidationError(
        f"The project database holds {shown} as the {field.replace('_', ' ')} of {what}, "
        f"which should be {words}.",
        HINT_STORED,
    )


class StoredDateTime(TypeDecorator[datetime]):
    """A time stamp column whose unreadable stored values give one message, not a traceback.

    The stored form is SQLAlchemy's own ``DateTime`` (the schema is unchanged);
    only reading is guarded, since parsing happens before any row hook runs.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        inner = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        if inner is None:
            return None

        def process(value: Any) -> Any:
            try:
                return inner(value)
            except (TypeError, ValueError):
                shown = repr(value)
                raise ValidationError(
                    f"The project database holds {shown[:60]} as a date and time, "
                    "which is not one.",
                    HINT_STORED,
                ) from None

        return process
