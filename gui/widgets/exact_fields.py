"""Loaded values a form keeps exactly while its fields show them rounded or clamped."""

from __future__ import annotations


class ExactFields:
    """A spin box rounds to its decimals and clamps to its range: a demand scale of 0 showed 0.01,
    250 showed 100, a goodput of 0.905 0.91, and the window, the report and the export computed
    with what it showed while `forecast` used the stored value (QA s37). `show` puts a loaded value
    in a field and keeps it; `value` gives it back while the field still shows what loading it
    showed, else the field's own value; once the user changes a field, its own value (QA s37:
    typing the shown value back kept a loaded ceiling the field read as "no ceiling")."""

    def __init__(self) -> None:
        self._loaded: dict = {}   # field -> (what it showed when loaded, the value in the model's unit)

    def clear(self) -> None:
        self._loaded = {}

    def show(self, field, value, shown=None) -> None:
        """`shown`: the value in the field's unit, where it is not the model's (a percent of a share)."""
        field.setValue(value if shown is None else shown)
        self.keep(field, value)

    def keep(self, field, value) -> None:
        """Keep `value` for `field` as it shows now (set by its own form: a share's row)."""
        self._loaded[field] = (field.value(), value)
        if not field.property("exact_fields_watched"):   # a change after loading is the user's: the
            field.setProperty("exact_fields_watched", True)   # field's own value from then on
            field.valueChanged.connect(lambda *_, f=field: self._changed(f))
            # typed, even the number it shows: a saved 5,000 trials shown as the field's 2,000 stayed
            # 5,000 (and refused) after the user typed 2000 (QA s38)
            from PySide6.QtWidgets import QLineEdit

            edit = field.findChild(QLineEdit)
            if edit is not None:
                edit.textEdited.connect(lambda *_, f=field: self._loaded.pop(f, None))

    def keep_each(self, values: dict) -> None:
        """`keep` each field's value (None: a share the model leaves to its default)."""
        for field, value in values.items():
            self.keep(field, value)

    def _changed(self, field) -> None:
        shown, _exact = self._loaded.get(field, (None, None))
        if shown is not None and field.value() != shown:
            del self._loaded[field]

    def value(self, field, to_model=None):
        """`field`'s value in the model's unit (`to_model`: from the field's unit)."""
        shown, exact = self._loaded.get(field, (None, None))
        if shown is not None and field.value() == shown:
            return exact
        return field.value() if to_model is None else to_model(field.value())
