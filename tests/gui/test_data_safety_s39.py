"""Two windows on one database (QA s39). "Another window" is a second connection to the same
file, as another process is."""

from engine.store import open_store

WHAT_IF = "Huawei delivers half"


def test_a_what_if_renamed_elsewhere_is_followed_not_read_as_deleted(window, store):
    """A what-if's resolved inputs carry its own name, so after a rename elsewhere they never
    matched what this window had read: it jumped to the baseline saying the what-if was deleted
    (unedited), or offered to save the edits as a new scenario beside the renamed one."""
    bar = window.scenario_bar
    assert bar.select(WHAT_IF)
    other = open_store(store.path)
    try:
        other.rename_scenario(WHAT_IF, "HDH")
    finally:
        other.close()
    window.check_external_changes()
    assert bar.current_name() == "HDH"
    names = [s["name"] for s in store.scenarios()]
    assert "HDH" in names and WHAT_IF not in names   # nothing saved again under the old name
