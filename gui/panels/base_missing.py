"""The warning a Training or Inference view shows when the model or chip its inputs name is not
in the store: opening a scenario that names one deleted before (`missing_choices`), or one on
screen deleted meanwhile, by another window or program or by this window's Fleet view
(`vanished_choices`). Both say the same: what is shown instead, and that a Save keeps the stored
inputs until the view is edited (the window's `_note_loaded` and `_keep_stored_choices`). Built with
nothing stored, a view whose default model or chip is missing shows another in silence: no saved
inputs name it, and a Save writes none for the view until it is edited."""

from __future__ import annotations

MISSING_FROM = {"model": "not among the model presets", "chip": "not in the catalog"}
# the same, for one that was there a moment ago
GONE_FROM = {"model": "no longer among the model presets", "chip": "no longer in the catalog"}
KEPT = "The saved inputs are kept unless you edit this view."
# what a Save does instead, said by the window (`save_words`), which knows what the scenario stores
DEFAULTS_KEPT = "The scenario stores no inputs for this view, and a Save adds none unless you edit it."
EDITED = "This view has unsaved edits: a Save stores what it shows."


def save_words(stored: bool, edited: bool) -> str:
    """What a Save does with a view showing a substitute: it keeps the stored inputs (or stores
    none, where the scenario has none for the view) until the view is edited."""
    return EDITED if edited else KEPT if stored else DEFAULTS_KEPT


def missing_choices(banner, missing, *, gone: bool = False, kept: str = KEPT) -> None:
    """The saved model and chip the store no longer has, each with what is shown instead, in one
    banner (a call per item left only the chip's). `missing`: (what, id, shown instead) each;
    `gone`: they were deleted while shown (not missing when the scenario was opened); `kept`:
    what a Save does (`save_words`)."""
    if not missing:
        return
    words = GONE_FROM if gone else MISSING_FROM
    said = "; ".join(f"{what} '{saved}', which is {words[what]}: showing {shown}" for what, saved, shown in missing)
    banner.show_warning(f"The {'' if gone else 'saved '}inputs name {said}. {kept}")


def vanished_choices(shown: dict, choices: dict) -> list[tuple[str, str, str]]:
    """(what, id, shown instead) for each choice on screen a moment ago (`shown`: what -> id)
    that the store no longer has (`choices`: what -> (the ids it has, the combo refilled))."""
    out = []
    for what, (known, box) in choices.items():
        before = shown.get(what)
        if before is not None and before not in known and box.count():
            out.append((what, before, box.currentText()))
    return out


def drop_load_warning(panel) -> None:
    """A Training or Inference view's warning about inputs loaded before (what they named and
    the view could not show) goes when others are loaded: each load says its own."""
    if hasattr(panel, "choices_missing") and panel.banner.kind == "warning":
        panel.banner.dismiss()
