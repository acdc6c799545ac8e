"""Fleetcast engine: the physics of training, serving and supply, in numpy only.

Nothing here imports Qt or SQLite; `engine.store` is the only SQLite user.
"""

__version__ = "0.3.0"
