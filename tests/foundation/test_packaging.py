"""One import root: every folder installs as carevisit.<folder>, nothing else is importable, and the import
contracts in pyproject.toml hold."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
FOLDERS = [name for name in PACKAGE_DIR if name != "carevisit"]


def _packages_on_disk() -> set[str]:
    found = set()
    for package, folder in PACKAGE_DIR.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            if "__pycache__" not in relative.parts:
                found.add(".".join((package, *relative.parts)) if relative.parts else package)
    return found


def test_every_folder_with_an_init_is_packaged() -> None:
    assert _packages_on_disk() == set(SETUPTOOLS["packages"])


def test_only_the_carevisit_root_is_importable() -> None:
    names = [folder.removeprefix("carevisit.") for folder in FOLDERS]
    probe = (
        "import importlib.util, json, sys;"
        f"print(json.dumps([n for n in {names!r} if importlib.util.find_spec(n) is not None]))"
    )
    # From an empty directory: the repository itself is not on the path, only what is installed.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", probe], cwd="/", env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_import_contracts_hold(tmp_path: Path) -> None:
    """lint-imports reads the package from disk, where the folders sit beside carevisit/, not inside it; it is run
    on a view of the installed layout built from links."""
    view = tmp_path / "carevisit"
    view.mkdir()
    for entry in (ROOT / "carevisit").iterdir():
        (view / entry.name).symlink_to(entry)
    for package, folder in PACKAGE_DIR.items():
        if package != "carevisit":
            (view / package.removeprefix("carevisit.")).symlink_to(ROOT / folder)
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"} | {"PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [str(lint_imports), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
