"""`carevisit import elders|volunteers FILE`: survey rosters in, all-or-nothing.

Exit codes: 0 imported (or, with --dry-run, valid); 1 bad file or bad rows, nothing written; 2 bad configuration;
3 database schema out of date.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
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

from carevisit.bootstrap import Runtime
from carevisit.commands.common import console, errors, run_with_runtime
from carevisit.roster.importer import ImportResult, import_elders, import_volunteers
from carevisit.roster.importer import Progress as ProgressCallback
from carevisit.roster.problems import RosterFileError

app = typer.Typer(help="Import survey rosters (摸底排查) from CSV (UTF-8 or GB18030) or XLSX.", no_args_is_help=True)
log = logging.getLogger(__name__)

_FILE = typer.Argument(..., help="A .csv (UTF-8, UTF-8 with BOM or GB18030) or .xlsx file; Chinese or English headers.")
_DRY_RUN = typer.Option(False, "--dry-run", help="Only check the file: report every problem, write nothing.")
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
    紧急联系人N 关系N 联系电话N 备注.

    Re-importing an id updates that elder (and replaces their emergency contacts); missing areas are created.
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
    if not file.is_file():
        errors.print(f"[bold red]{escape(str(file))}: no such file[/]")
        raise typer.Exit(1)
    try:
        with _progress_bar() as progress:
            result = run_with_runtime(lambda rt: run(rt, progress))
    except RosterFileError as error:
        errors.print(f"[bold red]{escape(str(error))}[/]")
        errors.print("Nothing was written.")
        raise typer.Exit(1) from None
    log.info(
        "roster import of %s: rows=%d problems=%d written=%s inserted=%d updated=%d",
        kind, result.rows, result.problem_count, result.written, result.inserted, result.updated,
    )  # fmt: skip
    if not result.ok:
        _print_problems(result)
        raise typer.Exit(1)
    if dry_run:
        console.print(f"{escape(result.file)}: all {result.rows} {kind} rows are valid (dry run: nothing written).")
        return
    console.print(
        f"Imported {result.rows} {kind} from {escape(result.file)}: {result.inserted} new, {result.updated} updated"
        + (f", {result.areas_created} areas created" if result.areas_created else "")
        + (f", {result.organisations_created} organisations created" if result.organisations_created else "")
        + "."
    )


def _print_problems(result: ImportResult) -> None:
    for problem in result.problems:
        errors.print(escape(str(problem)), highlight=False)
    hidden = result.problem_count - len(result.problems)
    if hidden:
        errors.print(f"… and {hidden} more problems.")
    errors.print(
        f"[bold red]{result.problem_count} problem(s) in {escape(result.file)} ({result.rows} rows read): "
        "nothing was written.[/] Fix them and import the file again."
    )


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
