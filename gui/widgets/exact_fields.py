"""Loaded values a form keeps exactly while its fields show them rounded or clamped."""

from __future__ import annotations


class ExactFields:
    """A spin box rounds to its decimals and clamps to its range: a demand scale of 0 showed 0.01,
    250 showed 100, a goodput of 0.905 0.91, and the window, the report and the export computed
    with what it showed while `forecast` used the stored value (QA s37). `show` puts a loaded value
    in a field and keeps it; `value` gives it back while the field still shows what loading it
    showed, else the field's own value."""

    def __init__(self) -> None:
        self._loaded: dict = {}   # field -> (what it showed when loaded, the value in the model's unit)

    def clear(self) -> None:
        self._loaded = {}

    def show(self, field, value, shown=None) -> None:
        """`shown`: the value in the field's unit, where it is not the model's (a percent of a share)."""
        field.setValue(value if shown is None else shown)
        self._loaded[field] = (field.value(), value)

    def value(self, field, to_model=None):
        """`field`'s value in the model's unit (`to_model`: from the field's unit)."""
        shown, exact = self._loaded.get(field, (None, None))
        if shown is not None and field.value() == shown:
            return exact
        return field.value() if to_model is None else to_model(field.value())
