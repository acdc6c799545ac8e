"""Fleetcast desktop app (PySide6 + pyqtgraph). The GUI is thin: the engine does the work."""

import os

# pyqtgraph would pick PyQt6 over PySide6 if both were installed.
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
