"""Importing a roster: all-or-nothing, streaming, in one transaction.

Pass 1 reads and validates the whole file, keeping only the ids seen (for duplicates) and spooling the validated
records to a temporary file, so memory stays bounded whatever the file size. Any bad row: nothing is written and
every problem is returned. Pass 2 streams the spool and writes in batches with bulk upserts on `external_id`
(SQLite and PostgreSQL both speak ON CONFLICT), inside the caller's session and one transaction.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.areas import in_subtree, subtree_ids
from carevisit.care.clock import Clock, local_today
from carevisit.roster.areas import AreaCodeConflict, AreaIndex
from carevisit.roster.bulk import BulkStatement, table_of
from carevisit.roster.columns import Columns, elder_columns, volunteer_columns
from carevisit.roster.fields import mask_id_card, parse_id_card, upgraded_id_card
from carevisit.roster.layout import MakeColumns, SkippedRow, read_layouts
from carevisit.roster.parallel import Chunk, Validator, validate_in_process, validate_in_workers
from carevisit.roster.problems import InvalidCell, RosterFileError, RowProblem
from carevisit.roster.readers import open_table
from carevisit.roster.rows import CommunityLookup, id_card_external_id, validate_elder, validate_volunteer
from carevisit.storage import installation
from carevisit.storage.enums import AreaLevel, ElderStatus
from carevisit.storage.models import Area, Elder, EmergencyContact, Organisation, Volunteer, VolunteerCommunity

# phase ("checking" or "writing"), rows done, rows in all (known once the file has been checked)
Progress = Callable[[str, int, int | None], None]
# The file's ids → those the importer may not touch (people of another area)
Refuse = Callable[[list[str]], Awaitable[set[str]]]

MAX_PROBLEMS = 1_000

_ELDERS = table_of(Elder)
_CONTACTS = table_of(EmergencyContact)
_VOLUNTEERS = table_of(Volunteer)
_SERVES = table_of(VolunteerCommunity)
_ORGANISATIONS = table_of(Organisation)

# Re-importing updates what the survey says; it keeps what the programme learned since (status, enrolment date).
_ELDER_UPDATES = (
    "name", "gender", "birth_date", "phone", "phone_kind", "phone2", "phone2_kind", "address", "community_id",
    "classes", "programmes", "risk", "consent", "notes", "id_card_masked", "id_card_hash", "village_group",
    "updated_at",
)  # fmt: skip
# …but what its notes say about the elder (deceased, moved, in hospital) is news: it sets the status.
_ELDER_STATUS_UPDATES = (*_ELDER_UPDATES, "status", "paused_until")
# …and a volunteer keeps their linked messaging account and active flag.
_VOLUNTEER_UPDATES = ("name", "phone", "phone_kind", "kind", "organisation_id", "capacity", "updated_at")


@dataclass
class ImportResult:
    file: str
    format: str
    kind: str  # "elders" or "volunteers"
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0  # may exceed len(problems): only the first MAX_PROBLEMS are kept
    written: bool = False
    inserted: int = 0
    updated: int = 0
    areas_created: int = 0
    organisations_created: int = 0
    # How the file was read: its sheets (name, rows read), those skipped (name, why), rows that are not elders
    # (合计, 填表人 …: the first few hundred, and their count), blank rows, and columns read and set aside.
    sheets: list[tuple[str | None, int]] = field(default_factory=list)
    skipped_sheets: list[tuple[str, str]] = field(default_factory=list)
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    skipped_count: int = 0
    blank_rows: int = 0
    notices: list[str] = field(default_factory=list)
    understood: list[tuple[str | None, tuple[tuple[str, str], ...]]] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list, repr=False)  # a dry run's: the file's ids, in order
    # Rows understood and acted on without being an error (备注 saying 已去世, 住院, 已搬离: the status is set);
    # capped like problems, all counted.
    row_notices: list[RowProblem] = field(default_factory=list)
    row_notice_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


class _Checker:
    """Pass-1 bookkeeping: problems (capped), ids seen (for duplicates), the spool of valid records."""

    def __init__(
        self,
        result: ImportResult,
        spool: IO[bytes] | None,
        max_problems: int,
        columns: list[Columns],
        sheet_names: list[str | None],
    ) -> None:
        self.result = result
        self.spool = spool
        self.max_problems = max_problems
        self.first_row: dict[str, tuple[int, int]] = {}  # id → (sheet, row)
        # Each sheet's key: 编号, or the ID-card number when it has no 编号 column. An ID-card number used twice is
        # caught too (two 编号 for one person).
        keys = ["id" if "id" in sheet.index else "id_card" for sheet in columns]
        self.key_is_card = [key == "id_card" for key in keys]
        self.id_positions = [sheet.index[key] for sheet, key in zip(columns, keys, strict=True)]
        self.id_labels = [sheet.label[key] for sheet, key in zip(columns, keys, strict=True)]
        self.card_positions = [
            sheet.index.get("id_card") if key == "id" else None for sheet, key in zip(columns, keys, strict=True)
        ]
        self.card_labels = [sheet.label.get("id_card", "") for sheet in columns]
        self.first_card: dict[str, tuple[int, int]] = {}
        self.sheet_names = sheet_names

    def add(self, chunk: Chunk) -> None:
        """One chunk's validation outcome. Ids count even in rows with other problems: a duplicate is reported too."""
        result = self.result
        first_row = self.first_row
        sheet = chunk.sheet
        position = self.id_positions[sheet]
        for index, (row, cells) in enumerate(chunk.rows):
            result.rows += 1
            external_id = cells[position].strip() if position < len(cells) else ""
            problems = chunk.problems.get(index, [])
            if external_id:
                first = first_row.setdefault(external_id, (sheet, row))
                if first != (sheet, row):
                    problems = [*problems, self._duplicate(sheet, row, external_id, first)]
            card_position = self.card_positions[sheet]
            if card_position is not None and card_position < len(cells) and (card := cells[card_position].strip()):
                # Numbers Excel turned into 1.10102E+17 look alike: refused already, they are not duplicates too.
                key = card.upper()
                if len(key) == 15 and key.isdigit():  # the same person's old card and new one are one person
                    key = upgraded_id_card(key)
                first = self.first_card.setdefault(key, (sheet, row)) if "E+" not in key else (sheet, row)
                if first != (sheet, row):
                    problems = [*problems, self._card_duplicate(sheet, row, card, first)]
            if problems:
                self.problems(problems, sheet)
            notices = chunk.notices.get(index)
            if notices:
                result.row_notice_count += len(notices)
                room = self.max_problems - len(result.row_notices)
                result.row_notices.extend(self._in_sheet(notices[: max(room, 0)], sheet))
        if self.spool is not None and result.ok:
            # The chunk's valid records, pickled by the validator: the spool is a sequence of pickled lists.
            self.spool.write(chunk.records)

    def _duplicate(self, sheet: int, row: int, external_id: str, first: tuple[int, int]) -> RowProblem:
        shown = mask_id_card(external_id) if self.key_is_card[sheet] else external_id
        where, where_zh = self._where(first)
        return RowProblem(
            self.result.file, row, self.id_labels[sheet], f"id {shown!r} already used in {where}",
            f"编号“{shown}”已在{where_zh}用过", self.id_positions[sheet],
        )  # fmt: skip

    def stored_ids(self, card_id: Callable[[str], str | None] | None) -> dict[str, str]:
        """The file's keys as the database stores them → the keys: a 编号 as written, an ID-card number (of a
        sheet without 编号) as the id made from it (`card_id`)."""
        stored: dict[str, str] = {}
        for key, (sheet, _) in self.first_row.items():
            as_stored = card_id(key) if self.key_is_card[sheet] and card_id is not None else key
            if as_stored:
                stored[as_stored] = key
        return stored

    def refuse(self, elsewhere: set[str]) -> None:
        """Rows whose 编号 belongs to someone of another area: importing would rewrite (or move) that person."""
        for key in sorted(elsewhere, key=lambda found: self.first_row[found]):
            sheet, row = self.first_row[key]
            shown = mask_id_card(key) if self.key_is_card[sheet] else key
            reason, reason_zh = f"id {shown!r} belongs to another area", f"编号“{shown}”属于其他地区"
            label, position = self.id_labels[sheet], self.id_positions[sheet]
            self.problems([RowProblem(self.result.file, row, label, reason, reason_zh, position)], sheet)

    def _card_duplicate(self, sheet: int, row: int, card: str, first: tuple[int, int]) -> RowProblem:
        shown = mask_id_card(card)
        where, where_zh = self._where(first)
        return RowProblem(
            self.result.file, row, self.card_labels[sheet], f"ID-card number {shown!r} already used in {where}",
            f"身份证号码“{shown}”已在{where_zh}用过", self.card_positions[sheet],
        )  # fmt: skip

    def _where(self, first: tuple[int, int]) -> tuple[str, str]:
        """Where a value was first seen, (sheet, row), in English and Chinese; the sheet only when it is named."""
        sheet, row = first
        name = self.sheet_names[sheet]
        if name is None:
            return f"row {row}", f"第{row}行"
        return f"sheet {name!r}, row {row}", f"工作表“{name}”第{row}行"

    def _in_sheet(self, problems: list[RowProblem], sheet: int) -> list[RowProblem]:
        name = self.sheet_names[sheet]
        return problems if name is None else [replace(problem, sheet=name) for problem in problems]

    def problems(self, problems: list[RowProblem], sheet: int = 0) -> None:
        self.result.problem_count += len(problems)
        room = self.max_problems - len(self.result.problems)
        self.result.problems.extend(self._in_sheet(problems[: max(room, 0)], sheet))


def _spooled(spool: IO[bytes]) -> Iterator[list[Any]]:
    spool.seek(0)
    while True:
        try:
            yield pickle.load(spool)
        except EOFError:
            return


async def import_elders(
    session: AsyncSession,
    *,
    path: Path,
    clock: Clock,
    zone: ZoneInfo,
    region: str,
    actor: str,
    area_code: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    max_problems: int = MAX_PROBLEMS,
    workers: int = 1,
    within: Area | None = None,
) -> ImportResult:
    """Import an elders roster. Commits once when every row is valid and `dry_run` is false; otherwise writes nothing.

    Raises RosterFileError when the file as a whole is unusable (unreadable, unknown or missing columns).
    `workers` > 1 validates on that many processes (worth it from some ten thousand rows). `area_code`
    (`CAREVISIT_DEFAULT_AREA_CODE`) completes local landlines written without one. `within`: the importer's own
    area (a dashboard admin's): a row whose areas lie outside it, or whose 编号 is an elder of another area, is a
    problem like any other.
    """
    today = local_today(clock, zone)
    scope = await scope_names(session, within) if within is not None else ()
    refuse = partial(_elders_elsewhere, session, within) if within is not None else None
    # The key of ID-card hashes, made on the first import that needs it (and kept only if that import commits).
    id_key = await installation.secret(await session.connection(), installation.ID_CARD_KEY)

    def card_id(text: str) -> str | None:
        """The 编号 stored for an elder of a roster keyed by ID-card number (None for a number that is no good)."""
        try:
            card = parse_id_card(text, today=today)
        except InvalidCell:
            return None
        return id_card_external_id(card.masked, card.keyed_hash(id_key)) if card else None

    with tempfile.TemporaryFile() as spool:
        result = await _check(
            path,
            "elders",
            elder_columns,
            None if dry_run else spool,
            progress,
            max_problems,
            lambda columns: partial(
                validate_elder,
                columns=columns,
                file=path.name,
                region=region,
                today=today,
                area_code=area_code,
                id_key=id_key,
                scope=scope,
            ),
            workers,
            refuse,
            card_id,
        )
        if dry_run and result.ok:
            await _would_write(session, _ELDERS, result)
        if not result.ok or dry_run:
            await session.rollback()  # end the read transaction (and forget a key made for nothing)
            return result
        await _write_in_one_transaction(
            session,
            _write_elders(session, spool, result, clock=clock, today=today, progress=progress),
            clock=clock,
            actor=actor,
            entity="elder",
            result=result,
        )
    result.written = True
    return result


async def _write_in_one_transaction(
    session: AsyncSession,
    write: Coroutine[Any, Any, None],
    *,
    clock: Clock,
    actor: str,
    entity: str,
    result: ImportResult,
) -> None:
    """Run the write, record it in the audit log and commit; anything going wrong leaves nothing written."""
    try:
        await write
        audit.record(
            session, clock=clock, actor=actor, action="roster.import", entity=entity, details=_audit_details(result)
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


async def import_volunteers(
    session: AsyncSession,
    *,
    path: Path,
    clock: Clock,
    region: str,
    actor: str,
    dry_run: bool = False,
    progress: Progress | None = None,
    max_problems: int = MAX_PROBLEMS,
    workers: int = 1,
    within: Area | None = None,
) -> ImportResult:
    """Import a volunteers roster; their 服务社区 must already exist (import the elders first). Same contract as
    `import_elders`; `within`: every 服务社区 must be in it, and a 编号 serving communities outside it is refused
    (re-importing would take those communities away)."""
    allowed = frozenset(await subtree_ids(session, area=within)) if within is not None else None
    connection = await session.connection()
    communities = CommunityLookup((await AreaIndex.load(connection)).communities(), allowed=allowed)
    refuse = partial(_volunteers_elsewhere, session, within) if within is not None else None
    with tempfile.TemporaryFile() as spool:
        result = await _check(
            path,
            "volunteers",
            volunteer_columns,
            None if dry_run else spool,
            progress,
            max_problems,
            lambda columns: partial(
                validate_volunteer, columns=columns, file=path.name, region=region, communities=communities
            ),
            workers,
            refuse,
        )
        if dry_run and result.ok:
            await _would_write(session, _VOLUNTEERS, result)
        if not result.ok or dry_run:
            await session.rollback()  # end the read transaction
            return result
        await _write_in_one_transaction(
            session,
            _write_volunteers(session, spool, result, clock=clock, progress=progress),
            clock=clock,
            actor=actor,
            entity="volunteer",
            result=result,
        )
    result.written = True
    return result


async def _check(
    path: Path,
    kind: str,
    make_columns: MakeColumns,
    spool: IO[bytes] | None,
    progress: Progress | None,
    max_problems: int,
    make_validator: Callable[[Columns], Validator],
    workers: int,
    refuse: Refuse | None = None,
    card_id: Callable[[str], str | None] | None = None,
) -> ImportResult:
    with open_table(path) as table:
        layouts = read_layouts(table, path.name, make_columns, elders=kind == "elders")
        result = ImportResult(file=path.name, format=table.format, kind=kind)
        result.skipped_sheets = layouts.skipped_sheets
        names = [layout.sheet.name if layout.named else None for layout in layouts.sheets]
        for layout, name in zip(layouts.sheets, names, strict=True):
            where = f"sheet {name!r}: " if name is not None else ""
            if layout.sheet.hidden:  # easy to forget it is there: say it was read
                result.notices.append(f"sheet {layout.sheet.name!r}: hidden in Excel; read like the others")
            result.notices.extend(f"{where}{notice}" for notice in layout.columns.notices)
            result.understood.append((name, layout.columns.understood))
        columns = [layout.columns for layout in layouts.sheets]
        checker = _Checker(result, spool, max_problems, columns, names)
        validators = [make_validator(sheet) for sheet in columns]
        sheets = ((n, layouts.rows(layout)) for n, layout in enumerate(layouts.sheets))
        chunks = (
            validate_in_workers(sheets, validators, workers=workers)
            if workers > 1
            else validate_in_process(sheets, validators)
        )
        rows_before = 0
        sheet_rows = [0] * len(columns)
        for chunk in chunks:
            checker.add(chunk)
            sheet_rows[chunk.sheet] += result.rows - rows_before
            rows_before = result.rows
            if progress:
                progress("checking", result.rows, None)
        result.sheets = [(layout.sheet.name, count) for layout, count in zip(layouts.sheets, sheet_rows, strict=True)]
        result.skipped_rows = layouts.skipped_rows
        result.skipped_count = layouts.skipped_count
        result.blank_rows = layouts.blank_rows
    if refuse is not None:
        stored = checker.stored_ids(card_id)
        checker.refuse({stored[found] for found in await refuse(list(stored))})
    if progress:
        progress("checking", result.rows, result.rows)
    if spool is None:  # a dry run: the ids tell what would be inserted or updated
        result.external_ids = list(checker.first_row)
    return result


async def _would_write(session: AsyncSession, table: Any, result: ImportResult, *, batch: int = 500) -> None:
    """A dry run's counts: the file's ids already stored would be updated, the others inserted. Reads only."""
    connection = await session.connection()
    ids = result.external_ids
    known = 0
    for start in range(0, len(ids), batch):
        known += len(await _ids(connection, table, ids[start : start + batch]))
    result.updated, result.inserted = known, len(ids) - known


def _upsert(
    connection: AsyncConnection,
    table: Any,
    columns: tuple[str, ...],
    updates: tuple[str, ...],
    constants: dict[str, Any],
) -> BulkStatement:
    """INSERT … ON CONFLICT (external_id) DO UPDATE: the same on SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.external_id], set_={name: statement.excluded[name] for name in updates}
    )
    return BulkStatement(connection, statement, table, columns, constants)


async def _ids(connection: AsyncConnection, table: Any, external_ids: list[str]) -> dict[str, int]:
    if not external_ids:
        return {}
    sql = _ids_sql(connection.dialect, table, len(external_ids))
    return {external_id: row_id for external_id, row_id in await connection.exec_driver_sql(sql, tuple(external_ids))}


@lru_cache(maxsize=64)
def _ids_sql(dialect: Dialect, table: Any, count: int) -> str:
    """SELECT external_id, id … WHERE external_id IN (?, ?, …), compiled once per batch size: SQLAlchemy's expanding
    IN renders and binds the parameters anew for every batch."""
    names = [f"id_{n}" for n in range(count)]
    query = select(table.c.external_id, table.c.id).where(table.c.external_id.in_([bindparam(n) for n in names]))
    compiled = query.compile(dialect=dialect)
    assert compiled.positiontup == names, "a positional paramstyle, parameters in order"
    return str(compiled)


async def _community(
    connection: AsyncConnection, areas: AreaIndex, names: tuple[str, ...], code: str, file: str
) -> int:
    try:
        return await areas.community_id(connection, names, code)
    except AreaCodeConflict as error:  # found while writing: the transaction is rolled back, nothing is written
        raise RosterFileError(file, str(error)) from None


async def _larger_sqlite_cache(connection: AsyncConnection) -> None:
    """SQLite's default 2 MiB page cache makes a million-row upsert re-read its indexes; 64 MiB keeps them in memory.
    The setting lasts for this pooled connection: a bounded, harmless amount of memory."""
    if connection.dialect.name == "sqlite":
        await connection.exec_driver_sql("PRAGMA cache_size = -65536")


async def _count(connection: AsyncConnection, table: Any) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


_ELDER_COLUMNS = (
    "external_id", "name", "gender", "birth_date", "phone", "phone_kind", "phone2", "phone2_kind", "address",
    "community_id", "classes", "programmes", "risk", "consent", "notes", "id_card_masked", "id_card_hash",
    "village_group",
)  # fmt: skip
_CONTACT_COLUMNS = ("elder_id", "position", "name", "relation", "phone", "phone_kind", "sms_opt_in")
# What the programme learns about a contact after the survey starts empty (carer, language, an SMS opt-out).
_NEW_CONTACT = {"is_carer": False, "language": None, "opted_out_at": None, "removed_at": None}


async def _write_elders(
    session: AsyncSession,
    spool: IO[bytes],
    result: ImportResult,
    *,
    clock: Clock,
    today: date,
    progress: Progress | None,
) -> None:
    connection = await session.connection()
    await _larger_sqlite_cache(connection)
    areas = await AreaIndex.load(connection)
    before = await _count(connection, _ELDERS)
    now = clock.now()
    constants = {"status": ElderStatus.ACTIVE, "paused_until": None, "enrolled_on": today, "created_at": now,
                 "updated_at": now}  # fmt: skip
    upsert = _upsert(connection, _ELDERS, _ELDER_COLUMNS, _ELDER_UPDATES, constants)
    # Rows whose notes set the status: the status is theirs on insert and on update (a pause without an end).
    status_constants = {name: value for name, value in constants.items() if name != "status"}
    upsert_status = _upsert(connection, _ELDERS, (*_ELDER_COLUMNS, "status"), _ELDER_STATUS_UPDATES, status_constants)
    add_contacts = BulkStatement(connection, insert(_CONTACTS), _CONTACTS, _CONTACT_COLUMNS, _NEW_CONTACT)
    done = 0
    batch: list[tuple[Any, ...]]  # ElderRecord.packed()
    for batch in _spooled(spool):
        community = areas.known_community_id
        rows = [
            (
                external_id, name, gender, born, phone, phone_kind, phone2, phone2_kind, address,
                (not code and community(names)) or await _community(connection, areas, names, code, result.file),
                classes, programmes, risk, consent, notes, masked, keyed, village_group, status,
            )
            for (
                external_id, name, gender, born, phone, phone_kind, phone2, phone2_kind, address, names, classes,
                programmes, risk, consent, notes, status, masked, keyed, village_group, _, code,
            ) in batch
        ]  # fmt: skip
        external_ids = [record[0] for record in batch]
        # Into an empty table (ids are unique in the file) nothing exists yet: no need to look.
        existing = await _ids(connection, _ELDERS, external_ids) if before else {}
        if any(row[-1] is not None for row in rows):
            await upsert.executemany(connection, [row[:-1] for row in rows if row[-1] is None])
            await upsert_status.executemany(connection, [row for row in rows if row[-1] is not None])
        else:
            await upsert.executemany(connection, [row[:-1] for row in rows])
        ids = existing | await _ids(connection, _ELDERS, [i for i in external_ids if i not in existing])
        listed = [
            (ids[record[0]], position, *contact)
            for record in batch
            for position, contact in enumerate(record[19], start=1)
        ]
        if existing:
            listed = await _merge_contacts(connection, list(existing.values()), listed, now=now)
        await add_contacts.executemany(connection, [(*contact[:6], bool(contact[6])) for contact in listed])
        done += len(batch)
        if progress:
            progress("writing", done, result.rows)
    result.inserted = await _count(connection, _ELDERS) - before
    result.updated = result.rows - result.inserted
    result.areas_created = areas.created


# Every column that points at a contact (an outbox row names the contact it was sent to): while one does, the contact
# stays, as history.
_CONTACT_REFERENCES = tuple(
    foreign_key.parent
    for table in SQLModel.metadata.sorted_tables
    for foreign_key in table.foreign_keys
    if foreign_key.column.table is _CONTACTS
)
_UPDATE_CONTACT = (
    update(_CONTACTS)
    .where(_CONTACTS.c.id == bindparam("contact_id"))
    .values(position=bindparam("new_position"), name=bindparam("new_name"), relation=bindparam("new_relation"),
            phone_kind=bindparam("new_phone_kind"), removed_at=None)
)  # fmt: skip
_OPT_IN_CONTACT = (
    update(_CONTACTS).where(_CONTACTS.c.id == bindparam("contact_id")).values(sms_opt_in=bindparam("new_opt_in"))
)


async def _merge_contacts(
    connection: AsyncConnection, elder_ids: list[int], listed: list[tuple[Any, ...]], *, now: datetime
) -> list[tuple[Any, ...]]:
    """Re-imported elders' contacts, matched by (elder, phone): a listed contact found there is updated in place (name,
    relation, position, and the SMS opt-in when the roster says it), keeping what the programme learned since (carer,
    language, an opt-out); one no longer listed is deleted, or kept as history (`removed_at`) when a message names it.
    Returns the listed contacts that are new, to insert: (elder id, position, name, relation, phone, kind, opt-in).
    """
    found: dict[tuple[int, str], list[int]] = {}
    query = select(_CONTACTS.c.elder_id, _CONTACTS.c.phone, _CONTACTS.c.id).where(_CONTACTS.c.elder_id.in_(elder_ids))
    for elder_id, phone, contact_id in await connection.execute(query.order_by(_CONTACTS.c.id)):
        found.setdefault((elder_id, phone), []).append(contact_id)
    if not found:
        return listed
    # Out of the way first, so that contacts swapping places never meet on (elder, position).
    await connection.execute(
        update(_CONTACTS).where(_CONTACTS.c.elder_id.in_(elder_ids)).values(position=-_CONTACTS.c.id)
    )
    new: list[tuple[Any, ...]] = []
    updates: list[dict[str, Any]] = []
    opt_ins: list[dict[str, Any]] = []
    for contact in listed:
        elder_id, position, name, relation, phone, phone_kind, opt_in = contact
        same = found.get((elder_id, phone))
        if not same:
            new.append(contact)
            continue
        contact_id = same.pop(0)
        updates.append({"contact_id": contact_id, "new_position": position, "new_name": name,
                        "new_relation": relation, "new_phone_kind": phone_kind})  # fmt: skip
        if opt_in is not None:
            opt_ins.append({"contact_id": contact_id, "new_opt_in": opt_in})
    if updates:
        await connection.execute(_UPDATE_CONTACT, updates)
    if opt_ins:
        await connection.execute(_OPT_IN_CONTACT, opt_ins)
    gone = [contact_id for ids in found.values() for contact_id in ids]
    if gone:
        kept: set[int] = set()
        for column in _CONTACT_REFERENCES:
            kept.update(
                await connection.scalars(select(column).where(column.in_(gone)).distinct())  # type: ignore[arg-type]
            )
        if kept:
            await connection.execute(
                update(_CONTACTS)
                .where(_CONTACTS.c.id.in_(kept), _CONTACTS.c.removed_at.is_(None))
                .values(removed_at=now)
            )
        if unreferenced := [contact_id for contact_id in gone if contact_id not in kept]:
            await connection.execute(delete(_CONTACTS).where(_CONTACTS.c.id.in_(unreferenced)))
    return new


_VOLUNTEER_COLUMNS = ("external_id", "name", "phone", "phone_kind", "kind", "organisation_id", "capacity")


async def _write_volunteers(
    session: AsyncSession, spool: IO[bytes], result: ImportResult, *, clock: Clock, progress: Progress | None
) -> None:
    connection = await session.connection()
    organisations = {
        name: org_id for org_id, name in await connection.execute(select(_ORGANISATIONS.c.id, _ORGANISATIONS.c.name))
    }
    before = await _count(connection, _VOLUNTEERS)
    now = clock.now()
    constants = {"active": True, "created_at": now, "updated_at": now}
    upsert = _upsert(connection, _VOLUNTEERS, _VOLUNTEER_COLUMNS, _VOLUNTEER_UPDATES, constants)
    done = 0
    batch: list[tuple[Any, ...]]  # VolunteerRecord.packed()
    for batch in _spooled(spool):
        for organisation in dict.fromkeys(record[4] for record in batch):
            if organisation and organisation not in organisations:
                organisations[organisation] = (
                    await connection.execute(
                        insert(_ORGANISATIONS).values(name=organisation).returning(_ORGANISATIONS.c.id)
                    )
                ).scalar_one()
                result.organisations_created += 1
        rows = [
            (
                external_id,
                name,
                phone,
                phone_kind,
                kind,
                organisations[organisation] if organisation else None,
                capacity,
            )
            for external_id, name, phone, phone_kind, organisation, kind, _, capacity in batch
        ]
        await upsert.executemany(connection, rows)
        ids = await _ids(connection, _VOLUNTEERS, [record[0] for record in batch])
        await connection.execute(delete(_SERVES).where(_SERVES.c.volunteer_id.in_(list(ids.values()))))
        serves = [{"volunteer_id": ids[record[0]], "area_id": area_id} for record in batch for area_id in record[6]]
        await connection.execute(insert(_SERVES), serves)
        done += len(batch)
        if progress:
            progress("writing", done, result.rows)
    result.inserted = await _count(connection, _VOLUNTEERS) - before
    result.updated = result.rows - result.inserted


async def scope_names(session: AsyncSession, area: Area) -> tuple[str, ...]:
    """The names a roster row gives from the province down to `area` (rows are matched by names, level by level).
    Raises RosterFileError when `area` is not on that hierarchy: no row could land in it."""
    chain = [area]
    while chain[-1].parent_id is not None:
        parent = await session.get(Area, chain[-1].parent_id)
        assert parent is not None, "parent_id is a foreign key"
        chain.append(parent)
    chain.reverse()
    if [AreaLevel(a.level) for a in chain] != list(AreaLevel)[: len(chain)]:
        raise RosterFileError(area.name, "not under a province: rows name their areas from the province down")
    return tuple(a.name for a in chain)


async def _elders_elsewhere(session: AsyncSession, within: Area, external_ids: list[str]) -> set[str]:
    outside = col(Elder.community_id).not_in(select(Area.id).where(in_subtree(within)))
    return await _batched(
        session, external_ids, lambda batch: select(Elder.external_id).where(col(Elder.external_id).in_(batch), outside)
    )


async def _volunteers_elsewhere(session: AsyncSession, within: Area, external_ids: list[str]) -> set[str]:
    outside = col(VolunteerCommunity.area_id).not_in(select(Area.id).where(in_subtree(within)))
    return await _batched(
        session,
        external_ids,
        lambda batch: (
            select(Volunteer.external_id)
            .join(VolunteerCommunity, col(VolunteerCommunity.volunteer_id) == col(Volunteer.id))
            .where(col(Volunteer.external_id).in_(batch), outside)
            .distinct()
        ),
    )


async def _batched(
    session: AsyncSession, ids: list[str], query: Callable[[list[str]], Any], size: int = 500
) -> set[str]:
    connection = await session.connection()
    found: set[str] = set()
    for start in range(0, len(ids), size):
        found.update((await connection.execute(query(ids[start : start + size]))).scalars())
    return found


def _audit_details(result: ImportResult) -> dict[str, Any]:
    # Counts only: no names, phones or addresses in the audit log; the file name may name a place, not a person.
    return {
        "format": result.format,
        "rows": result.rows,
        "inserted": result.inserted,
        "updated": result.updated,
        "areas_created": result.areas_created,
        "organisations_created": result.organisations_created,
    }
