"""Importing a roster: all-or-nothing, streaming, in one transaction.

Pass 1 reads and validates the whole file, keeping only the ids seen (for duplicates) and spooling the validated
records to a temporary file, so memory stays bounded whatever the file size. Any bad row: nothing is written and
every problem is returned. Pass 2 streams the spool and writes in batches with bulk upserts on `external_id`
(SQLite and PostgreSQL both speak ON CONFLICT), inside the caller's session and one transaction.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, partial
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from carevisit.care import audit
from carevisit.care.clock import Clock, local_today
from carevisit.roster.areas import AreaIndex
from carevisit.roster.bulk import BulkStatement, table_of
from carevisit.roster.columns import Columns, elder_columns, volunteer_columns
from carevisit.roster.fields import mask_id_card
from carevisit.roster.parallel import Chunk, Validator, validate_in_process, validate_in_workers
from carevisit.roster.problems import RowProblem
from carevisit.roster.readers import open_table
from carevisit.roster.rows import CommunityLookup, validate_elder, validate_volunteer
from carevisit.storage import installation
from carevisit.storage.enums import ElderStatus
from carevisit.storage.models import Elder, EmergencyContact, Organisation, Volunteer, VolunteerCommunity

# phase ("checking" or "writing"), rows done, rows in all (known once the file has been checked)
Progress = Callable[[str, int, int | None], None]

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
    # What was understood and will be done without being an error (备注 saying 已去世, 住院, 已搬离: the status is
    # set); capped like problems, all counted.
    notices: list[RowProblem] = field(default_factory=list)
    notice_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


class _Checker:
    """Pass-1 bookkeeping: problems (capped), ids seen (for duplicates), the spool of valid records."""

    def __init__(self, result: ImportResult, spool: IO[bytes] | None, max_problems: int, columns: Columns) -> None:
        self.result = result
        self.spool = spool
        self.max_problems = max_problems
        self.first_row: dict[str, int] = {}
        # The elder's key: 编号, or the ID-card number when there is no 编号 column. An ID-card number used twice is
        # caught too (two 编号 for one person).
        key = "id" if "id" in columns.index else "id_card"
        self.key_is_card = key == "id_card"
        self.id_position = columns.index[key]
        self.id_label = columns.label[key]
        self.card_position = columns.index.get("id_card") if key == "id" else None
        self.card_label = columns.label.get("id_card", "")
        self.first_card: dict[str, int] = {}

    def add(self, chunk: Chunk) -> None:
        """One chunk's validation outcome. Ids count even in rows with other problems: a duplicate is reported too."""
        result = self.result
        first_row = self.first_row
        position = self.id_position
        for index, (row, cells) in enumerate(chunk.rows):
            result.rows += 1
            external_id = cells[position].strip() if position < len(cells) else ""
            problems = chunk.problems.get(index, [])
            if external_id:
                first = first_row.setdefault(external_id, row)
                if first != row:
                    shown = mask_id_card(external_id) if self.key_is_card else external_id
                    problems = [
                        *problems,
                        RowProblem(
                            result.file, row, self.id_label, f"id {shown!r} already used in row {first}",
                            f"编号“{shown}”已在第{first}行用过",
                        ),
                    ]  # fmt: skip
            card_position = self.card_position
            if card_position is not None and card_position < len(cells) and (card := cells[card_position].strip()):
                # Numbers Excel turned into 1.10102E+17 look alike: refused already, they are not duplicates too.
                first = self.first_card.setdefault(card.upper(), row) if "E+" not in card.upper() else row
                if first != row:
                    problems = [
                        *problems,
                        RowProblem(
                            result.file, row, self.card_label,
                            f"ID-card number {mask_id_card(card)!r} already used in row {first}",
                            f"身份证号码“{mask_id_card(card)}”已在第{first}行用过",
                        ),
                    ]  # fmt: skip
            if problems:
                self.problems(problems)
            notices = chunk.notices.get(index)
            if notices:
                result.notice_count += len(notices)
                room = self.max_problems - len(result.notices)
                result.notices.extend(notices[: max(room, 0)])
        if self.spool is not None and result.ok:
            # The chunk's valid records, pickled by the validator: the spool is a sequence of pickled lists.
            self.spool.write(chunk.records)

    def problems(self, problems: list[RowProblem]) -> None:
        self.result.problem_count += len(problems)
        room = self.max_problems - len(self.result.problems)
        self.result.problems.extend(problems[: max(room, 0)])


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
) -> ImportResult:
    """Import an elders roster. Commits once when every row is valid and `dry_run` is false; otherwise writes nothing.

    Raises RosterFileError when the file as a whole is unusable (unreadable, unknown or missing columns).
    `workers` > 1 validates on that many processes (worth it from some ten thousand rows). `area_code`
    (`CAREVISIT_DEFAULT_AREA_CODE`) completes local landlines written without one.
    """
    today = local_today(clock, zone)
    # The key of ID-card hashes, made on the first import that needs it (and kept only if that import commits).
    id_key = await installation.secret(await session.connection(), installation.ID_CARD_KEY)
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
            ),
            workers,
        )
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
) -> ImportResult:
    """Import a volunteers roster; their 服务社区 must already exist (import the elders first). Same contract as
    `import_elders`."""
    connection = await session.connection()
    communities = CommunityLookup((await AreaIndex.load(connection)).communities())
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
        )
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
    make_columns: Callable[[list[str], str], Columns],
    spool: IO[bytes] | None,
    progress: Progress | None,
    max_problems: int,
    make_validator: Callable[[Columns], Validator],
    workers: int,
) -> ImportResult:
    with open_table(path) as table:
        columns = make_columns(table.header, path.name)
        result = ImportResult(file=path.name, format=table.format, kind=kind)
        checker = _Checker(result, spool, max_problems, columns)
        validator = make_validator(columns)
        chunks = (
            validate_in_workers(table.rows, validator, workers=workers)
            if workers > 1
            else validate_in_process(table.rows, validator)
        )
        for chunk in chunks:
            checker.add(chunk)
            if progress:
                progress("checking", result.rows, None)
    if progress:
        progress("checking", result.rows, result.rows)
    return result


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


async def _learned_about_contacts(
    connection: AsyncConnection, elder_ids: list[int]
) -> dict[tuple[int, str], tuple[Any, ...]]:
    """(elder id, phone) → what was learned about that contact since it was imported."""
    columns = [_CONTACTS.c[name] for name in _CONTACT_LEARNED]
    query = select(_CONTACTS.c.elder_id, _CONTACTS.c.phone, *columns).where(_CONTACTS.c.elder_id.in_(elder_ids))
    return {(row[0], row[1]): tuple(row[2:]) for row in await connection.execute(query)}


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
_CONTACT_COLUMNS = (
    "elder_id", "position", "name", "relation", "phone", "phone_kind", "is_carer", "sms_opt_in", "language",
    "opted_out_at",
)  # fmt: skip
# What the programme learned about a contact since the survey (carer, SMS opt-in or opt-out, language); the roster has
# no column for it, so a re-imported contact with the same phone keeps it.
_CONTACT_LEARNED = ("is_carer", "sms_opt_in", "language", "opted_out_at")
_NEW_CONTACT = (False, False, None, None)


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
    add_contacts = BulkStatement(connection, insert(_CONTACTS), _CONTACTS, _CONTACT_COLUMNS)
    done = 0
    batch: list[tuple[Any, ...]]  # ElderRecord.packed()
    for batch in _spooled(spool):
        community = areas.known_community_id
        rows = [
            (
                external_id, name, gender, born, phone, phone_kind, phone2, phone2_kind, address,
                community(names) or await areas.community_id(connection, names), classes, programmes, risk, consent,
                notes, masked, keyed, village_group, status,
            )
            for (
                external_id, name, gender, born, phone, phone_kind, phone2, phone2_kind, address, names, classes,
                programmes, risk, consent, notes, status, masked, keyed, village_group, _
            ) in batch
        ]  # fmt: skip
        external_ids = [record[0] for record in batch]
        # Into an empty table (ids are unique in the file) nothing exists yet: no need to look.
        existing = await _ids(connection, _ELDERS, external_ids) if before else {}
        learned = await _learned_about_contacts(connection, list(existing.values())) if existing else {}
        if any(row[-1] is not None for row in rows):
            await upsert.executemany(connection, [row for row in rows if row[-1] is None])
            await upsert_status.executemany(connection, [row for row in rows if row[-1] is not None])
        else:
            await upsert.executemany(connection, rows)
        ids = existing | await _ids(connection, _ELDERS, [i for i in external_ids if i not in existing])
        # The file is the truth about who the contacts are: a re-imported elder's old contacts go.
        if existing:
            await connection.execute(delete(_CONTACTS).where(_CONTACTS.c.elder_id.in_(list(existing.values()))))
        contacts = [
            (elder_id, position, name, relation, phone, phone_kind, *learned.get((elder_id, phone), _NEW_CONTACT))
            for record in batch
            for elder_id in (ids[record[0]],)
            for position, (name, relation, phone, phone_kind) in enumerate(record[19], start=1)
        ] if learned else [
            (elder_id, position, name, relation, phone, phone_kind, False, False, None, None)  # as _NEW_CONTACT
            for record in batch
            for elder_id in (ids[record[0]],)
            for position, (name, relation, phone, phone_kind) in enumerate(record[19], start=1)
        ]  # fmt: skip
        await add_contacts.executemany(connection, contacts)
        done += len(batch)
        if progress:
            progress("writing", done, result.rows)
    result.inserted = await _count(connection, _ELDERS) - before
    result.updated = result.rows - result.inserted
    result.areas_created = areas.created


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
