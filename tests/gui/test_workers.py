"""Worker and LatestRunner with pure-python functions: results, failures, cancel, stale drops."""

import threading

from PySide6.QtCore import QThread

from engine.errors import UserError
from gui import workers
from gui.workers import Cancelled, LatestRunner, ProgressThrottle, Worker


def _sum_squares(n, *, progress=None, should_stop=None):
    total = 0
    for i in range(n):
        if should_stop and should_stop():
            raise Cancelled()
        total += i * i
        if progress:
            progress((i + 1) / n, "summing")
    return total


def test_worker_returns_result_on_gui_thread(qtbot):
    worker = Worker(_sum_squares, 1000)
    seen = {}
    worker.signals.finished.connect(lambda r: seen.update(result=r, thread=QThread.currentThread()))
    with qtbot.waitSignal(worker.signals.finished, timeout=5000):
        worker.start()
    assert seen["result"] == sum(i * i for i in range(1000))
    # Slots connected on the GUI thread run there, never on the pool thread.
    assert seen["thread"] is qtbot_main_thread()


def qtbot_main_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_worker_progress_is_throttled_to_visible_steps(qtbot):
    worker = Worker(_sum_squares, 20000)
    reports = []
    worker.signals.progress.connect(lambda f, m: reports.append(f))
    with qtbot.waitSignal(worker.signals.finished, timeout=5000):
        worker.start()
    qtbot.waitUntil(lambda: reports and reports[-1] == 1.0, timeout=2000)
    # 20,000 calls collapse to at most one per whole percent (plus the first).
    assert 50 <= len(reports) <= 101
    assert reports == sorted(reports)


def test_progress_throttle_passes_new_messages_and_the_end():
    out = []
    throttle = ProgressThrottle(lambda f, m: out.append((f, m)))
    for i in range(1000):
        throttle(i / 1000, "a")
    throttle(0.5, "b")
    throttle(1.0, "b")
    assert len(out) == 100 + 2
    assert out[-2] == (0.5, "b") and out[-1] == (1.0, "b")


def test_user_error_becomes_failed_message(qtbot):
    def bad(*, progress=None, should_stop=None):
        raise UserError("chip 'x9' not in catalog")

    worker = Worker(bad)
    with qtbot.waitSignal(worker.signals.failed, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["chip 'x9' not in catalog"]


def test_bug_becomes_failed_message_with_type(qtbot):
    worker = Worker(lambda: 1 / 0, hooks=False)
    with qtbot.waitSignal(worker.signals.failed, timeout=5000) as blocker:
        worker.start()
    assert blocker.args[0].startswith("ZeroDivisionError")


def test_cancel_stops_cooperatively(qtbot):
    gate = threading.Event()

    def wait_then_check(*, progress=None, should_stop=None):
        gate.wait(5)
        if should_stop():
            raise Cancelled()
        return "not cancelled"

    worker = Worker(wait_then_check)
    results = []
    worker.signals.finished.connect(results.append)
    with qtbot.waitSignal(worker.signals.cancelled, timeout=5000):
        worker.start()
        worker.cancel()
        gate.set()
    assert results == []


def test_running_workers_are_kept_alive_then_released(qtbot):
    gate = threading.Event()
    worker = Worker(lambda: gate.wait(5), hooks=False)
    worker.start()
    assert worker in workers.running_workers()
    with qtbot.waitSignal(worker.signals.done, timeout=5000):
        gate.set()
    qtbot.waitUntil(lambda: worker not in workers.running_workers(), timeout=2000)


def test_latest_runner_drops_stale_results(qtbot):
    runner = LatestRunner()
    first_gate, second_gate = threading.Event(), threading.Event()

    def job(tag, gate, *, progress=None, should_stop=None):
        gate.wait(5)
        return tag  # ignores should_stop on purpose: a slow engine that finishes anyway

    results = []
    runner.finished.connect(results.append)
    runner.start(job, "old", first_gate)
    with qtbot.waitSignal(runner.finished, timeout=5000):
        gen = runner.start(job, "new", second_gate)
        first_gate.set()  # the old run finishes first, but its result is stale
        second_gate.set()
    assert gen == 2
    assert results == ["new"]
    assert not runner.is_running()


def test_latest_runner_cancels_previous_run(qtbot):
    runner = LatestRunner()
    seen_stop = threading.Event()
    gate = threading.Event()

    def slow(*, progress=None, should_stop=None):
        while not should_stop():
            if gate.wait(0.005):
                break
        seen_stop.set()
        raise Cancelled()

    with qtbot.waitSignal(runner.started, timeout=5000):
        runner.start(slow)
    with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
        runner.start(_sum_squares, 10)
    assert blocker.args == [285]
    qtbot.waitUntil(seen_stop.is_set, timeout=5000)


def test_latest_runner_reports_failure_and_busy(qtbot):
    runner = LatestRunner()
    busy = []
    runner.busy_changed.connect(busy.append)

    def boom(*, progress=None, should_stop=None):
        raise UserError("tp=3 does not divide 8 chips per node")

    with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
        runner.start(boom)
    assert blocker.args == ["tp=3 does not divide 8 chips per node"]
    assert busy == [True, False]


def test_cancel_all_asks_every_running_worker(qtbot):
    gate = threading.Event()
    stopped = []

    def loop(*, progress=None, should_stop=None):
        while not should_stop():
            gate.wait(0.005)
        stopped.append(True)
        raise Cancelled()

    ws = [Worker(loop) for _ in range(2)]
    for w in ws:
        with qtbot.waitSignal(w.signals.started, timeout=5000):
            w.start()
    assert workers.cancel_all() >= 2
    for w in ws:
        qtbot.waitUntil(lambda: w not in workers.running_workers(), timeout=5000)
    assert len(stopped) == 2


def test_worker_cancelled_before_it_runs_never_calls_the_function(qtbot):
    calls = []
    worker = Worker(lambda: calls.append(1), hooks=False)
    worker.cancel()
    with qtbot.waitSignal(worker.signals.cancelled, timeout=5000):
        worker.start()
    assert calls == []
