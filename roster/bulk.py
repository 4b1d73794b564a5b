"""Bulk writes at driver speed: a Core statement compiled once, then one DBAPI executemany per batch.

SQLAlchemy's own executemany builds and processes a parameter dict per row (about 40 µs a row here, more than the
database's own work). Here each row is a tuple bound through the columns' own bind processors — the values are
exactly those SQLAlchemy would write (dates, UTC datetimes, enum values) — in the statement's placeholder order.
Values the same for every row (a timestamp, a default) are bound once. A row's tuple is built by a function generated
once per statement (no per-value loop), and the processors of enum, boolean, date and timestamp columns — few
distinct values, millions of rows — are memoised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Date, Enum, Table
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlmodel import SQLModel

from carevisit.storage.types import UTCDateTime


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table (SQLModel's typing does not show `__table__`)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


class BulkStatement:
    def __init__(
        self,
        connection: AsyncConnection,
        statement: Insert,
        table: Table,
        columns: Sequence[str],
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        """`columns`: the order of the values in each row given to `executemany`; `constants`: the same for all."""
        dialect = connection.dialect
        constants = dict(constants or {})
        compiled = statement.compile(dialect=dialect, column_keys=[*columns, *constants], for_executemany=True)
        order = compiled.positiontup
        assert order is not None, "a positional paramstyle (qmark on SQLite, $n on asyncpg)"
        self.sql = str(compiled)

        def processor(name: str) -> Callable[[Any], Any] | None:
            return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]

        bound = {name: (process(value) if (process := processor(name)) else value) for name, value in constants.items()}
        # Per placeholder, an expression of the generated row builder: a constant, a value, or a processed value.
        namespace: dict[str, Any] = {}
        parts = []
        for slot, name in enumerate(order):
            if name in bound:
                namespace[f"c{slot}"] = bound[name]
                parts.append(f"c{slot}")
                continue
            index = list(columns).index(name)
            process = processor(name)
            if process is None:
                parts.append(f"row[{index}]")
            elif isinstance(table.c[name].type, _FEW_VALUES):
                namespace[f"m{slot}"] = _Memo(process)
                parts.append(f"m{slot}[row[{index}]]")
            else:
                namespace[f"p{slot}"] = process
                parts.append(f"p{slot}(row[{index}])")
        self.bind: Callable[[Sequence[Any]], tuple[Any, ...]] = eval(f"lambda row: ({', '.join(parts)},)", namespace)

    async def executemany(self, connection: AsyncConnection, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            bind = self.bind
            await connection.exec_driver_sql(self.sql, [bind(row) for row in rows])


# Column types whose bound value depends on the value alone and that take few distinct values in a roster (a UTC
# timestamp: mostly none, or the import's own; equal instants bind alike, whatever their zone).
_FEW_VALUES = (Enum, Boolean, Date, UTCDateTime)


class _Memo(dict[Any, Any]):
    """value → processed value, computed by the column's own processor the first time a value is seen."""

    def __init__(self, process: Callable[[Any], Any]) -> None:
        super().__init__()
        self.process = process

    def __missing__(self, value: Any) -> Any:
        processed = self[value] = self.process(value)
        return processed
