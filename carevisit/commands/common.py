"""What every command needs: settings loaded with friendly errors, and a runtime on the configured database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console

from carevisit.bootstrap import Runtime, runtime
from carevisit.config import Settings, SettingsError, load_settings
from carevisit.storage.schema import SchemaOutOfDate

T = TypeVar("T")
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        errors.print("[bold red]Configuration error[/]")
        for name, why in error.problems.items():
            errors.print(f"  {name}: {why}")
        raise typer.Exit(2) from None


def run_with_runtime(work: Callable[[Runtime], Awaitable[T]], *, check_schema: bool = True) -> T:
    """Run `work` on the configured database, turning an out-of-date schema into a clear message."""
    settings = settings_or_exit()

    async def main() -> T:
        async with runtime(settings, check_schema=check_schema) as rt:
            return await work(rt)

    try:
        return asyncio.run(main())
    except SchemaOutOfDate as error:
        errors.print(f"[bold red]{error}[/]")
        raise typer.Exit(3) from None
