"""The grading command's own Dask cluster (``autograde.local_cluster``): its workers are
forked from a server that has made their imports, so they start with nbgrader imported and
its objects out of the garbage collector's sight; each has the environment it was given,
also when the server was started by an earlier call; Dask's profiler is off."""

from __future__ import annotations

import os
import sys

import pytest
from distributed import Client

from workbook.grading.autograde import local_cluster

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="forked workers: checked on Linux")


def _worker_state() -> dict:
    """Runs in a worker, before it has graded anything."""
    import gc

    import dask

    return {"nbgrader": "nbgrader.apps.api" in sys.modules, "frozen": gc.get_freeze_count(),
            "mark": os.environ.get("WORKBOOK_TEST_MARK"), "parent": os.getppid(),
            "profile": dask.config.get("distributed.worker.profile.enabled")}


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
    # the server keeps running in this process; the next cluster's workers come from it
    # with their own environment, not the one the server started with
    again = _states(1, "second")
    assert [s["mark"] for s in again] == ["second"]
    assert again[0]["parent"] == first[0]["parent"]
