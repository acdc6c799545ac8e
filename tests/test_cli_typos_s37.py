"""QA s37: `train --modle` printed fleetcast's own usage (no flag of `train` in it) and
"unrecognized arguments"; `chip list` named no command meant. An unknown flag is said by its
command, with the flag meant where one is close; an unknown command names the one meant."""

import pytest

from engine.cli import main


def _error(capsys, *argv) -> tuple[int, str]:
    with pytest.raises(SystemExit) as caught:
        main(list(argv))
    return caught.value.code, capsys.readouterr().err


def test_an_unknown_flag_is_said_by_its_command_with_the_flag_meant(capsys):
    code, err = _error(capsys, "train", "--modle", "llama3-8b")
    assert code == 2 and err.startswith("usage: fleetcast train ")
    assert err.strip().endswith("fleetcast train: error: unrecognized arguments: --modle llama3-8b "
                                "(did you mean --model?)")
    code, err = _error(capsys, "chips", "import", "--replac", "x.csv")
    assert code == 2 and "fleetcast chips import: error: unrecognized arguments: --replac (did you mean --replace?)" in err
    code, err = _error(capsys, "forecast", "stray")   # nothing close: no guess
    assert err.strip().endswith("fleetcast forecast: error: unrecognized arguments: stray")
    # short or far names are no guess (QA s37: "--" and "--dry" read "did you mean --db?")
    for argv in (("forecast", "--", "extra"), ("install-desktop-entry", "--dry"), ("orders", "list", "--chip", "-x")):
        code, err = _error(capsys, *argv)
        assert code == 2 and "did you mean" not in err, (argv, err)


def test_an_unknown_command_names_the_one_meant(capsys):
    code, err = _error(capsys, "chip", "list")
    assert code == 2 and err.strip().endswith("; did you mean 'chips'?")
    code, err = _error(capsys, "chips", "lst")
    assert err.strip().endswith("invalid choice: 'lst' (choose from 'list', 'import', 'export', 'delete'); "
                                "did you mean 'list'?")
