"""The package's metadata: what `pip install .` installs and what requirements.txt pins."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name_and_bound(requirement: str) -> tuple[str, str]:
    name, bound = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9A-Za-z.]*)", requirement).groups()
    return name.lower(), bound


def test_requirements_pin_exactly_what_pyproject_declares():
    project = _pyproject()["project"]
    declared = dict(map(_name_and_bound, project["dependencies"] + project["optional-dependencies"]["dashboard"]))
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    pins = dict(ln.lower().split("==") for ln in lines if "==" in ln and not ln.startswith("#"))
    assert pins == declared  # the lower bound in pyproject.toml is the version requirements.txt pins
    assert lines[-1] == "-e .[dashboard]"  # the README's one set-up command installs the project too


def test_the_console_command_is_the_module_entry_point():
    from aecore.cli import main

    assert _pyproject()["project"]["scripts"] == {"aecore": "aecore.cli:main"}
    assert callable(main)


def test_the_offline_sample_ships_as_package_data():
    from aecore.data.datasets import SAMPLE_FILE

    data = _pyproject()["tool"]["setuptools"]["package-data"]["aecore"]
    assert SAMPLE_FILE.relative_to(ROOT / "aecore").as_posix() in data
    assert SAMPLE_FILE.is_file()


def test_only_the_core_is_installed_and_the_dashboard_runs_from_the_repository():
    # a top-level `app` in site-packages would clash with other projects'; the dashboard finds app/ in the checkout
    packages = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    assert all(p == "aecore" or p.startswith("aecore.") for p in packages), packages
    assert "python -m streamlit run app/Home.py" in (ROOT / "README.md").read_text()
