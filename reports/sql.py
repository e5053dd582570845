"""Dialect-specific SQL behind portable functions (SQLite and PostgreSQL).

Reports and the dashboard aggregate in the database; the few expressions the
two engines spell differently live here and nowhere else. WIB has no daylight
saving time, so "local time" is UTC + 7 hours on both engines.
"""
from __future__ import annotations

from enum import Enum
from typing import Any

from sqlalchemy import Date, case, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

WIB_OFFSET_HOURS = 7


class Bucket(str, Enum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, starting on Monday
    MONTH = "month"


def local_bucket(column: Any, bucket: Bucket, dialect: str) -> ColumnElement[str]:
    """The WIB day, week (its Monday) or month (its 1st) of a UTC timestamp, as 'YYYY-MM-DD'."""
    if dialect == "postgresql":
        local = func.timezone("Asia/Jakarta", column)
        return func.to_char(func.date_trunc(bucket.value, local), "YYYY-MM-DD")
    if dialect == "sqlite":
        shift = f"+{WIB_OFFSET_HOURS} hours"
        if bucket is Bucket.DAY:
            return func.date(column, shift)
        if bucket is Bucket.WEEK:
            # 'weekday 0' moves forward to Sunday (or stays on it); six days back is Monday.
            return func.date(column, shift, "weekday 0", "-6 days")
        return func.date(column, shift, "start of month")
    raise ValueError(f"unsupported database dialect {dialect!r}")


def local_day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The WIB calendar day of a UTC timestamp: a DATE on PostgreSQL, 'YYYY-MM-DD' text on SQLite.

    Cheaper than ``local_bucket(…, Bucket.DAY, …)`` where the value is only grouped
    and read back (no formatting per row).
    """
    if dialect == "postgresql":
        return cast(func.timezone("Asia/Jakarta", column), Date)
    if dialect == "sqlite":
        return func.date(column, f"+{WIB_OFFSET_HOURS} hours")
    raise ValueError(f"unsupported database dialect {dialect!r}")


def seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[float]:
    """``later - earlier`` in seconds (NULL when either is NULL)."""
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * literal_column("86400.0")
    raise ValueError(f"unsupported database dialect {dialect!r}")


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group satisfy ``condition`` (0, never NULL)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
