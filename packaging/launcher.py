"""Entry script of the bundled app (PyInstaller): the same `main` as `fleetcast` / `python -m gui`."""

import sys

from gui.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
