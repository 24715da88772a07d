"""The sans-I/O core imports nothing that does I/O (design.md "Sans-I/O core, thin shell")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Top-level packages a pure module must not import: the event loop, processes, files, sockets,
# threads and the web stack belong to the shell.
BANNED_IMPORTS = frozenset(
    {
        "aiofiles",
        "anyio",
        "asyncio",
        "concurrent",
        "granian",
        "hypercorn",
        "multiprocessing",
        "os",
        "pathlib",
        "selectors",
        "shutil",
        "signal",
        "socket",
        "starlette",
        "subprocess",
        "tempfile",
        "threading",
        "uvicorn",
    }
)

# Pure modules, relative to the repository root; add new core modules here.
PURE_MODULES = [
    "origin/ranges.py",
    "origin/conditional.py",
    "origin/multipart.py",
    "origin/mediatypes.py",
    "origin/cache.py",
    "origin/paths.py",
]

# packager/*.py is pure except these shell modules (processes, files, environment, the live loop).
SHELL_MODULES = frozenset(
    {
        "live.py",
        "store.py",
        "vod.py",
        "vodsplit.py",  # VOD: cutting the streamed fMP4 into segment files
        "ffmpeg_process.py",
        "ffmpeg_path.py",
        "__main__.py",
        "hub.py",  # the Unix-socket transport between the packager and the workers
        "synthetic.py",  # the packager without ffmpeg: writes files, for tests and benchmarks
    }
)


def _pure_modules() -> list[str]:
    """Return every module that must stay pure: the list above plus the packager core."""
    packager = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "packager").glob("*.py")
        if path.name not in SHELL_MODULES
    )
    return PURE_MODULES + [module for module in packager if module not in PURE_MODULES]


def banned_imports(source: str) -> list[str]:
    """Given Python source, return the banned top-level packages it imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str]
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
        ):
            names = [
                arg.value
                for arg in node.args[:1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in BANNED_IMPORTS]
    return found


@pytest.mark.parametrize("module", _pure_modules())
def test_pure_module_has_no_io_imports(module: str) -> None:
    path = ROOT / module
    assert path.exists(), f"{module} is listed as a pure module but does not exist"
    assert banned_imports(path.read_text(encoding="utf-8")) == []


# (source, banned names found): the checker itself must catch every import form.
CHECKER_CASES = [
    pytest.param("import os", ["os"], id="import"),
    pytest.param("import os.path", ["os.path"], id="import-submodule"),
    pytest.param("from os import path", ["os"], id="from-import"),
    pytest.param("from asyncio.subprocess import PIPE", ["asyncio.subprocess"], id="from-sub"),
    pytest.param("import json, socket as s", ["socket"], id="aliased-in-list"),
    pytest.param("def f():\n    import subprocess\n", ["subprocess"], id="nested-in-function"),
    pytest.param("if True:\n    from pathlib import Path\n", ["pathlib"], id="nested-in-if"),
    pytest.param("__import__('threading')", ["threading"], id="dunder-import"),
    pytest.param("from starlette.responses import Response", ["starlette.responses"], id="web"),
    pytest.param("from . import os", [], id="relative-import-is-local"),
    pytest.param("import osmosis\nimport re\nimport enum", [], id="prefix-is-not-a-match"),
]


@pytest.mark.parametrize(("source", "expected"), CHECKER_CASES)
def test_checker(source: str, expected: list[str]) -> None:
    assert banned_imports(source) == expected
