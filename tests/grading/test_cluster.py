"""The grading command's own Dask cluster (``autograde.local_cluster``): its workers are
forked from a server that has made their imports, so they start with nbgrader imported and
its objects out of the garbage collector's sight, ignoring Ctrl-C (the command stops them);
each has the environment it was given, also when the server was started by an earlier
call; Dask's profiler is off and its background chores slowed to once a second or less.
A Ctrl-C while the cluster starts takes effect after."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest
from distributed import Client

from workbook_grading.autograde import _interrupts_deferred, local_cluster

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="forked workers: checked on Linux")


# what each Dask server does on a timer: 20 ms, 0.5 s and 0.1 s by default
CHORES = ("distributed.admin.tick.interval", "distributed.admin.system-monitor.interval",
          "distributed.worker.memory.monitor-interval")


def _worker_state() -> dict:
    """Runs in a worker, before it has graded anything."""
    import gc

    import dask

    return {"nbgrader": "nbgrader.apps.api" in sys.modules, "frozen": gc.get_freeze_count(),
            "mark": os.environ.get("WORKBOOK_TEST_MARK"), "parent": os.getppid(),
            "profile": dask.config.get("distributed.worker.profile.enabled"),
            "chores": [dask.utils.parse_timedelta(dask.config.get(key)) for key in CHORES],
            "sigint": signal.getsignal(signal.SIGINT)}


def _states(n: int, mark: str) -> list[dict]:
    with local_cluster(n, dict(os.environ, WORKBOOK_TEST_MARK=mark)) as cluster, \
            Client(cluster) as client:
        return list(client.run(_worker_state).values())


def test_workers_start_with_their_imports_made_and_the_environment_given():
    first = _states(2, "first")
    assert len(first) == 2
    for state in first:
        assert state["nbgrader"], "a worker imports nbgrader itself: not forked from the server"
        assert state["frozen"] > 10_000, state  # the preloaded objects
        assert state["parent"] != os.getpid()  # the fork server's child, not ours
        assert state["mark"] == "first"
        assert state["profile"] is False
        assert min(state["chores"]) >= 1.0, state["chores"]
        assert state["sigint"] == signal.SIG_IGN
    # the server keeps running in this process; the next cluster's workers come from it
    # with their own environment, not the one the server started with
    again = _states(1, "second")
    assert [s["mark"] for s in again] == ["second"]
    assert again[0]["parent"] == first[0]["parent"]


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals are handled in the main thread")
def test_an_interrupt_while_the_cluster_starts_takes_effect_after_it():
    # as in a terminal (a test runner's worker may ignore SIGINT, and then so does this)
    runner = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with _interrupts_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler has run by now
                done.append("body")
        assert done == ["body"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, runner)
