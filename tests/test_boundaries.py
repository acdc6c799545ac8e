"""The layers import one way: the engine loads no Qt or SQLite; the store loads no Qt."""

import subprocess
import sys

import pytest

QT_AND_SQL = ("PySide6", "shiboken6", "pyqtgraph", "sqlite3", "sqlite_utils")
ENGINE_MODULES = (
    "engine", "engine.hardware", "engine.models", "engine.catalog", "engine.training",
    "engine.inference", "engine.forecast", "engine.reliability", "engine.calibration",
    "engine.validation", "engine.validation_inference", "engine.cli",
)


def _loaded_after_import(module: str) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {line.split(".")[0] for line in out.stdout.split()}


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_engine_module_loads_no_qt_or_sqlite(module):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} not present")
    loaded = _loaded_after_import(module)
    assert not loaded & set(QT_AND_SQL), f"{module} pulled in {sorted(loaded & set(QT_AND_SQL))}"


def test_store_loads_no_qt():
    loaded = _loaded_after_import("engine.store")
    assert not loaded & {"PySide6", "shiboken6", "pyqtgraph"}
