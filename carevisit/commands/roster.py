"""`carevisit import elders|volunteers FILE`: survey rosters in, all-or-nothing.

Exit codes: 0 imported (or, with --dry-run, valid); 1 bad file or bad rows, nothing written; 2 bad configuration;
3 database schema out of date.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import partial
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from carevisit.bootstrap import Runtime
from carevisit.commands.common import console, errors, run_with_runtime, settings_or_exit
from carevisit.roster import messages
from carevisit.roster.importer import ImportResult, import_elders, import_volunteers
from carevisit.roster.importer import Progress as ProgressCallback
from carevisit.roster.problems import RosterFileError
from carevisit.roster.problems_file import SCREENFUL, write_problems_file
from carevisit.roster.template import write_template

app = typer.Typer(help="Import survey rosters (摸底排查) from CSV (UTF-8 or GB18030) or XLSX.", no_args_is_help=True)
log = logging.getLogger(__name__)

_FILE = typer.Argument(..., help="A .csv (UTF-8, UTF-8 with BOM or GB18030) or .xlsx file; Chinese or English headers.")
_DRY_RUN = typer.Option(
    False, "--dry-run", help="Only check the file: how each column is read, every problem, what would be written."
)
_WORKERS = typer.Option(
    0, "--workers", min=0, help="Processes validating rows; 0: one per CPU for files over 4 MB, else 1."
)
# Below this, starting worker processes costs more than it saves.
_PARALLEL_FROM_BYTES = 4 * 1024 * 1024


def workers_for(file: Path, asked: int = 0) -> int:
    if asked:
        return asked
    return (os.cpu_count() or 1) if file.stat().st_size >= _PARALLEL_FROM_BYTES else 1


@app.command("elders")
def elders(file: Path = _FILE, dry_run: bool = _DRY_RUN, workers: int = _WORKERS) -> None:
    """Import elders: 编号 姓名 性别 出生日期 电话 地址 省 市 区县 街道 社区 类别 风险等级 是否同意
    紧急联系人N 关系N 联系电话N 短信通知N 备注.

    Re-importing an id updates that elder (and their emergency contacts, matched by phone); missing areas are created.
    """

    def run(rt: Runtime, progress: ProgressCallback) -> Awaitable[ImportResult]:
        async def work() -> ImportResult:
            async with rt.sessions() as session:
                return await import_elders(
                    session, path=file, clock=rt.clock, zone=rt.settings.zone, region=rt.settings.default_region,
                    area_code=rt.settings.default_area_code, actor="cli", dry_run=dry_run, progress=progress,
                    workers=workers_for(file, workers),
                )  # fmt: skip

        return work()

    _import("elders", file, dry_run, run)


@app.command("volunteers")
def volunteers(file: Path = _FILE, dry_run: bool = _DRY_RUN, workers: int = _WORKERS) -> None:
    """Import volunteers: 编号 姓名 电话 所属组织 类型 服务社区 每月上限.

    服务社区 must name existing communities (import the elders first); organisations are created by name.
    """

    def run(rt: Runtime, progress: ProgressCallback) -> Awaitable[ImportResult]:
        async def work() -> ImportResult:
            async with rt.sessions() as session:
                return await import_volunteers(
                    session, path=file, clock=rt.clock, region=rt.settings.default_region, actor="cli",
                    dry_run=dry_run, progress=progress, workers=workers_for(file, workers),
                )  # fmt: skip

        return work()

    _import("volunteers", file, dry_run, run)


def _import(
    kind: str, file: Path, dry_run: bool, run: Callable[[Runtime, ProgressCallback], Awaitable[ImportResult]]
) -> None:
    language = settings_or_exit().language
    if not file.is_file():
        errors.print(f"[bold red]{escape(messages.text(language, 'no_such_file', file=file))}[/]")
        raise typer.Exit(1)
    try:
        with _progress_bar() as progress:
            result = run_with_runtime(lambda rt: run(rt, progress))
    except RosterFileError as error:
        errors.print(f"[bold red]{escape(messages.file_problem(language, error))}[/]")
        errors.print(messages.text(language, "nothing_written"))
        raise typer.Exit(1) from None
    log.info(
        "roster import of %s: rows=%d problems=%d written=%s inserted=%d updated=%d",
        kind, result.rows, result.problem_count, result.written, result.inserted, result.updated,
    )  # fmt: skip
    _print_reading(result, language)
    kind_name = messages.text(language, kind)
    if dry_run:
        _print_columns(result, language)
    if not result.ok:
        _print_problems(result, file, language)
        raise typer.Exit(1)
    if dry_run:
        console.print(escape(messages.text(language, "dry_run_ok", file=result.file, rows=result.rows, kind=kind_name)))
        console.print(
            messages.text(language, "dry_run_would", inserted=result.inserted, updated=result.updated, kind=kind_name)
        )
        return
    console.print(
        escape(
            messages.text(
                language, "imported", rows=result.rows, kind=kind_name, file=result.file,
                inserted=result.inserted, updated=result.updated,
            )
            + (messages.text(language, "areas_created", count=result.areas_created) if result.areas_created else "")
            + (
                messages.text(language, "organisations_created", count=result.organisations_created)
                if result.organisations_created
                else ""
            )
            + messages.text(language, "end")
        )
    )  # fmt: skip


def _print_columns(result: ImportResult, language: str) -> None:
    """How each column was understood, sheet by sheet: its letter, its header, the field it fills (or not used)."""
    for sheet, understood in result.understood:
        title = messages.text(language, "columns_title", file=result.file) + (f" · {sheet}" if sheet else "")
        table = Table(
            messages.text(language, "column"),
            messages.text(language, "header"),
            messages.text(language, "understood_as"),
            title=escape(title),
        )
        for ref, meaning in sorted(understood, key=lambda pair: _column_order(pair[0])):
            letter, header = _split_ref(ref)
            table.add_row(letter, escape(header), escape(_meaning(language, meaning)))
        console.print(table)


def _split_ref(ref: str) -> tuple[str, str]:
    """'H列（联系电话）' → ('H', '联系电话')."""
    match = re.fullmatch(r"([A-Z]+)列（(.*)）", ref)
    return (match[1], match[2]) if match else ("", ref)


def _column_order(ref: str) -> tuple[int, str]:
    """A, B, … Z, AA: in the sheet's order (contacts are understood last but sit where the form puts them)."""
    letter = _split_ref(ref)[0]
    return len(letter), letter


def _meaning(language: str, meaning: str) -> str:
    if meaning == "(ignored)":
        return messages.text(language, "ignored")
    ticked = re.fullmatch(r"classes: (.+) when ticked", meaning)
    if ticked:
        return messages.text(language, "ticked_class", klass=ticked[1])
    return messages.field_name(language, meaning)


def _print_reading(result: ImportResult, language: str) -> None:
    """How the file was read: its sheets, what was skipped and set aside (never a sheet or a row left out quietly)."""
    say = partial(messages.text, language)
    for notice in result.notices:
        console.print(escape(say("note", notice=messages.notice(language, notice))), highlight=False)
    if len(result.sheets) > 1 or result.skipped_sheets:
        for sheet, rows in result.sheets:
            console.print(escape(say("sheet_rows", sheet=sheet, rows=rows)), highlight=False)
    for sheet, why in result.skipped_sheets:
        console.print(escape(say("sheet_skipped", sheet=sheet, why=messages.notice(language, why))), highlight=False)
    for notice in result.row_notices:  # rows acted on: a 备注 that says 已去世, 住院 …
        console.print(escape(say("note", notice=messages.problem(language, notice))), highlight=False)
    if result.row_notice_count > len(result.row_notices):
        console.print(escape(say("more_notices", count=result.row_notice_count - len(result.row_notices))))
    if result.skipped_count:
        listed = say("list_separator").join(
            say(
                "skipped_row_in_sheet" if row.sheet else "skipped_row",
                sheet=row.sheet,
                row=row.row,
                why=messages.notice(language, row.reason),
            )
            for row in result.skipped_rows[:10]
        )
        more = " …" if result.skipped_count > 10 else ""
        kind = say(result.kind)
        console.print(
            escape(say("rows_skipped", count=result.skipped_count, kind=kind, listed=listed) + more), highlight=False
        )


def _print_problems(result: ImportResult, file: Path, language: str) -> None:
    for problem in result.problems:
        errors.print(escape(messages.problem(language, problem)), highlight=False)
    hidden = result.problem_count - len(result.problems)
    if hidden:
        errors.print(messages.text(language, "more", count=hidden))
    summary = messages.text(language, "summary", count=result.problem_count, file=result.file, rows=result.rows)
    errors.print(f"[bold red]{escape(summary)}[/] {messages.text(language, 'fix_and_retry')}")
    if result.problem_count > SCREENFUL:
        try:
            written = write_problems_file(file, result.problems, language=language, elders=result.kind == "elders")
        except (OSError, RosterFileError) as error:  # a read-only folder: the list above still says it all
            log.warning("could not write the problems workbook: %s", error)
            return
        errors.print(escape(messages.text(language, "problems_file", path=written)), highlight=False)


class RosterKind(StrEnum):
    ELDERS = "elders"
    VOLUNTEERS = "volunteers"


_TEMPLATE_NAMES = {RosterKind.ELDERS: "老人名单模板.xlsx", RosterKind.VOLUNTEERS: "志愿者名单模板.xlsx"}


def template(
    kind: RosterKind = typer.Argument(..., help="elders or volunteers"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Where to write (default: 老人名单模板.xlsx …)."),
    force: bool = typer.Option(False, "--force", help="Replace the file if it exists."),
) -> None:
    """Write a ready XLSX roster to fill in: our columns with Chinese headers, drop-downs for 类别, 风险等级,
    是否同意 …, and 编号 and phone columns kept as text so Excel cannot damage them. It imports as it is."""
    language = settings_or_exit().language
    path = output or Path(_TEMPLATE_NAMES[kind])
    if path.exists() and not force:
        errors.print(f"[bold red]{escape(messages.text(language, 'template_exists', path=path))}[/]")
        raise typer.Exit(1)
    try:
        write_template(kind.value, path)
    except OSError as error:
        errors.print(f"[bold red]{escape(f'{path}: {error.strerror or error}')}[/]")
        raise typer.Exit(1) from None
    console.print(escape(messages.text(language, "template_written", path=path, kind=kind.value)))


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback]:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{phase} rows", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update
