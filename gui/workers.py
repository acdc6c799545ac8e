"""Background work without touching widgets or the database from another thread.

`Worker` follows superqt's `WorkerBase`: a `QRunnable` whose signals live on a separate
`QObject` (created on the GUI thread, so connected slots run there), a module-level set that
keeps running workers alive until their last signal is delivered, and cooperative cancellation:
the engine function receives `should_stop` and raises `engine.errors.Cancelled` (or returns
early) when it says True.

`LatestRunner` follows Orange's concurrent helpers: the latest request wins. Starting a run
cancels the previous one; every run carries a generation number and results, failures and
progress of older generations are dropped.

    runner = LatestRunner(parent=self)
    runner.finished.connect(self.show_result)      # only the newest run's result arrives
    runner.progress.connect(self.progress_bar_update)
    runner.start(engine.training.search, inputs)    # called as fn(inputs, progress=..., should_stop=...)
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from engine.errors import Cancelled, UserError

log = logging.getLogger("fleetcast.workers")

# Running workers, so neither the runnable nor its signals object is collected mid-flight.
_RUNNING: set["Worker"] = set()
_RUNNING_LOCK = threading.Lock()


class WorkerSignals(QObject):
    started = Signal()
    progress = Signal(float, str)  # fraction in [0, 1], message
    finished = Signal(object)  # the function's return value
    failed = Signal(str)  # a one-line message (UserError text, or "TypeError: ...")
    cancelled = Signal()
    # Emitted last, whatever happened; releases the worker (queued to the GUI thread).
    done = Signal(object)


class _Reaper(QObject):
    """Lives on the GUI thread; drops finished workers from _RUNNING after their signals."""

    @Slot(object)
    def release(self, worker):
        with _RUNNING_LOCK:
            _RUNNING.discard(worker)


_reaper: _Reaper | None = None


def _get_reaper() -> _Reaper:
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    return _reaper


class ProgressThrottle:
    """Passes a progress report on only when it would change what the user sees.

    A progress bar shows whole percents; reporting 10,000 times per second would flood the
    event queue. The first report, 100 %, and any new message always pass.
    """

    def __init__(self, emit: Callable[[float, str], None], steps: int = 100):
        self._emit = emit
        self._steps = steps
        self._last: tuple[int, str] | None = None

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        key = (int(fraction * self._steps), message)
        if key == self._last:
            return
        self._last = key
        self._emit(fraction, message)


class Worker(QRunnable):
    """Runs `fn(*args, progress=..., should_stop=..., **kwargs)` on the global thread pool.

    Pass `hooks=False` for a function that takes no progress/should_stop keywords.
    Connect to `worker.signals.*` before `start()`.
    """

    def __init__(self, fn: Callable[..., Any], *args, hooks: bool = True, **kwargs):
        super().__init__()
        # The pool deletes it after run(): QThreadPool.start takes it from Python whatever this
        # says, so with False nothing ever freed it (each Forecast run kept its worker and request:
        # QA s22). _RUNNING keeps the Python side alive until its last signal is delivered.
        self.setAutoDelete(True)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.hooks = hooks
        self.generation = 0
        self._stop = threading.Event()
        self.signals = WorkerSignals()
        self.signals.generation = 0
        self.signals.done.connect(_get_reaper().release, Qt.ConnectionType.QueuedConnection)
        self._throttle = ProgressThrottle(self.signals.progress.emit)

    # ---- control (GUI thread) ----
    def start(self, pool: QThreadPool | None = None) -> "Worker":
        with _RUNNING_LOCK:
            _RUNNING.add(self)
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def cancel(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    @property
    def is_cancelled(self) -> bool:
        return self._stop.is_set()

    # ---- the pool thread ----
    def run(self) -> None:
        signals = self.signals
        try:
            if self._stop.is_set():
                signals.cancelled.emit()
                return
            signals.started.emit()
            kwargs = dict(self.kwargs)
            if self.hooks:
                kwargs.setdefault("progress", self._throttle)
                kwargs.setdefault("should_stop", self.should_stop)
            try:
                result = self.fn(*self.args, **kwargs)
            except Cancelled:
                signals.cancelled.emit()
                return
            except UserError as exc:
                signals.failed.emit(str(exc).replace("\n", " "))
                return
            except Exception as exc:  # a bug in the engine: log it with the traceback
                log.exception("worker %r failed", getattr(self.fn, "__name__", self.fn))
                _log_to_crash_file(exc)
                signals.failed.emit(f"{type(exc).__name__}: {exc}")
                return
            if self._stop.is_set():  # returned early after a stop request: not a result
                signals.cancelled.emit()
            else:
                signals.finished.emit(result)
        finally:
            signals.done.emit(self)


def _log_to_crash_file(exc: BaseException) -> None:
    import traceback

    logger = logging.getLogger("fleetcast.crash")
    if logger.handlers:
        logger.error("Worker failed\n%s", "".join(traceback.format_exception(exc)))


def running_workers() -> list[Worker]:
    with _RUNNING_LOCK:
        return list(_RUNNING)


def cancel_all() -> int:
    """Ask every running worker to stop (on window close). Returns how many were asked."""
    workers = running_workers()
    for worker in workers:
        worker.cancel()
    return len(workers)


class LatestRunner(QObject):
    """The latest request wins: `start()` cancels the running job; stale results are dropped."""

    started = Signal(int)  # generation
    progress = Signal(float, str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None):
        super().__init__(parent)
        self._pool = pool
        self._generation = 0
        self._current: Worker | None = None

    @property
    def generation(self) -> int:
        return self._generation

    def is_running(self) -> bool:
        return self._current is not None

    def wired(self, *, finished, failed, progress, busy, cancelled) -> "LatestRunner":
        """This runner with a receiver's slots on each of its signals (one call where five
        connects were repeated view by view)."""
        for signal, slot in ((self.finished, finished), (self.failed, failed), (self.progress, progress),
                             (self.busy_changed, busy), (self.cancelled, cancelled)):
            signal.connect(slot)
        return self

    def start(self, fn: Callable[..., Any], *args, hooks: bool = True, **kwargs) -> int:
        self.cancel(emit=False)
        self._generation += 1
        worker = Worker(fn, *args, hooks=hooks, **kwargs)
        worker.generation = worker.signals.generation = self._generation
        s = worker.signals
        # Bound slots of this QObject: queued to the GUI thread, and disconnected
        # automatically if this runner is destroyed while the worker still runs.
        s.started.connect(self._on_started)
        s.progress.connect(self._on_progress)
        s.finished.connect(self._on_finished)
        s.failed.connect(self._on_failed)
        s.cancelled.connect(self._on_cancelled)
        was_busy = self._current is not None
        self._current = worker
        if not was_busy:
            self.busy_changed.emit(True)
        worker.start(self._pool)
        return self._generation

    def cancel(self, emit: bool = True) -> None:
        if self._current is not None:
            self._current.cancel()
            self._current = None
            if emit:
                self.busy_changed.emit(False)
                self.cancelled.emit()

    def _sender_is_current(self) -> bool:
        sender = self.sender()
        gen = getattr(sender, "generation", None)
        return self._current is not None and gen == self._generation

    def _done(self) -> None:
        self._current = None
        self.busy_changed.emit(False)

    @Slot()
    def _on_started(self):
        if self._sender_is_current():
            self.started.emit(self._generation)

    @Slot(float, str)
    def _on_progress(self, fraction, message):
        if self._sender_is_current():
            self.progress.emit(fraction, message)

    @Slot(object)
    def _on_finished(self, result):
        if self._sender_is_current():
            self._done()
            self.finished.emit(result)

    @Slot(str)
    def _on_failed(self, message):
        if self._sender_is_current():
            self._done()
            self.failed.emit(message)

    @Slot()
    def _on_cancelled(self):
        if self._sender_is_current():  # stopped by the engine itself, not by a newer start()
            self._done()
            self.cancelled.emit()
