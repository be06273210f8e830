"""Plain SQL run on the database driver itself, for the few statements every action runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Params = Mapping[str, Any] | Sequence[Any]
T = TypeVar("T")


def execute(connection: Connection, sql: str, params: Params = ()) -> Any:
    """Run one statement inside the connection's transaction; the driver's cursor.

    SQLAlchemy's execution path costs two to three times the statement itself on SQLite; the
    handful of statements each action runs (load, save, record, audit append) skip it. Driver
    errors come back as SQLAlchemy's DBAPIError, as from any other statement, so the Door
    still tells a lost race from a failure.
    """
    dbapi = connection.dialect.loaded_dbapi
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
    except dbapi.Error as err:
        cursor.close()
        raise DBAPIError.instance(
            sql, params, err, dbapi.Error, dialect=connection.dialect
        ) from err
    return cursor


def detached(model: type[T], values: Mapping[str, Any]) -> T:
    """A model object holding a row's values, in no session: for reading, never written back.

    Filled in as the ORM fills a loaded object, without its identity map or an attribute event
    per column: a page reading dozens of rows skips most of the ORM's cost per row.
    """
    found = model.__mapper__.class_manager.new_instance()  # type: ignore[attr-defined]
    found.__dict__.update(values)
    return found


class Prepared:
    """A Core statement compiled once per database, run on the driver with SQLAlchemy's own
    conversions of each value (JSON, UTC times), so that rows read and written are the same."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[str, _Form] = {}

    def _form(self, dialect: Dialect) -> _Form:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = _Form.of(self.statement, dialect)
        return form

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Run it with named values; the driver's cursor."""
        form = self._form(connection.dialect)
        values = {
            name: value if (convert := form.binds.get(name)) is None else convert(value)
            for name, value in params.items()
        }
        if form.fixed:
            values = {**form.fixed, **values}
        return execute(connection, form.sql, form.arrange(values))

    def one_or_none(
        self, connection: Connection, params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The one row it selects, as converted values by column name; None if none."""
        row = self.execute(connection, params).fetchone()
        return None if row is None else self._form(connection.dialect).row(row)

    def rows(self, connection: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row it selects, as converted values by column name."""
        form = self._form(connection.dialect)
        return [form.row(r) for r in self.execute(connection, params).fetchall()]

    def tuples(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row it selects, as converted values in the order selected."""
        form = self._form(connection.dialect)
        return [form.values(r) for r in self.execute(connection, params).fetchall()]

    def objects(self, connection: Connection, params: Mapping[str, Any], model: type[T]) -> list[T]:
        """Every row it selects, as `detached` objects of the model (the statement selects
        the model's own columns)."""
        return [detached(model, row) for row in self.rows(connection, params)]

    def scalars(self, connection: Connection, params: Mapping[str, Any]) -> list[Any]:
        """The first column of every row it selects, converted."""
        convert = self._form(connection.dialect).columns[0][1]
        found = [r[0] for r in self.execute(connection, params).fetchall()]
        return found if convert is None else [convert(v) for v in found]


class _Form:
    """A statement as one database runs it: its SQL, and how each value is converted."""

    def __init__(
        self,
        sql: str,
        order: Sequence[str] | None,
        binds: dict[str, Callable[[Any], Any]],
        columns: Sequence[tuple[str, Callable[[Any], Any] | None]],
    ) -> None:
        self.sql = sql
        self.order = order
        self.binds = binds
        self.columns = columns
        self._keys = [key for key, _ in columns]
        self._converts = [convert for _, convert in columns]
        #: only the columns whose values need converting (JSON, times): most need none
        self._converted = [(key, convert) for key, convert in columns if convert is not None]
        #: the values the statement itself gives (literals compared with), converted
        self.fixed: dict[str, Any] = {}

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect) -> _Form:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)  # a statement, not DDL
        binds: dict[str, Callable[[Any], Any]] = {
            name: convert
            for name, bind in compiled.binds.items()
            if (convert := bind.type._cached_bind_processor(dialect)) is not None
        }
        selected = getattr(statement, "selected_columns", ())
        columns = [(c.key, c.type._cached_result_processor(dialect, None)) for c in selected]
        order = compiled.positiontup if compiled.positional else None
        form = cls(compiled.string, order, binds, columns)
        for name, bind in compiled.binds.items():
            if not bind.required:
                fix = binds.get(name)
                form.fixed[name] = bind.value if fix is None else fix(bind.value)
        return form

    def arrange(self, values: dict[str, Any]) -> Params:
        """The values as the driver takes them: in order for `?` marks, else by name."""
        return values if self.order is None else [values[name] for name in self.order]

    def values(self, row: Sequence[Any]) -> tuple[Any, ...]:
        if not self._converted:
            return tuple(row)
        return tuple(
            value if convert is None else convert(value)
            for convert, value in zip(self._converts, row, strict=True)
        )

    def row(self, row: Sequence[Any]) -> dict[str, Any]:
        values = dict(zip(self._keys, row, strict=True))
        for key, convert in self._converted:
            values[key] = convert(values[key])
        return values
