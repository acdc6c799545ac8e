"""Seed data and icons, loaded with importlib.resources (no .qrc)."""

from importlib import resources as _resources


def read_text(name: str) -> str:
    return _resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def path_of(name: str):
    """A Traversable for a resource file (use `importlib.resources.as_file` for a real path)."""
    return _resources.files(__name__).joinpath(name)
