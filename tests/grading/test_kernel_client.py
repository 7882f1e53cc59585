"""The grader's kernel client (limits.nbgrader_classes): ready as soon as the kernel has
answered a kernel_info request on shell and published that request's idle status on
IOPub -- not after jupyter_client's 0.2 s of IOPub silence -- and it still asks again when
IOPub was not yet connected, and still gives up on a dead or silent kernel."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from queue import Empty

import pytest

from workbook.grading.limits import nbgrader_classes


def message(kind: str, parent: str, **content) -> dict:
    return {"msg_type": kind, "parent_header": {"msg_id": parent}, "content": content}


class Channel:
    """A channel whose messages were queued in advance; waits out the timeout if empty
    (and records each such wait)."""

    def __init__(self):
        self.queue: list[dict] = []
        self.waited: list[float] = []

    async def get_msg(self, timeout=None):
        if self.queue:
            return self.queue.pop(0)
        self.waited.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty


def client(answers, alive=True):
    """A ReadyKernelClient whose n-th kernel_info request is answered by ``answers[n]``:
    ``msg_id -> (shell messages, iopub messages)`` (later requests: no answer)."""
    ready_client = nbgrader_classes()[0]().client_factory

    class Scripted(ready_client):
        shell_channel = iopub_channel = None  # the properties would connect to a kernel

        def __init__(self):
            super().__init__()
            self.shell_channel, self.iopub_channel = Channel(), Channel()
            self.requests, self.handled = [], []

        def kernel_info(self):
            msg_id = f"info-{len(self.requests)}"
            if len(self.requests) < len(answers):
                shell, iopub = answers[len(self.requests)](msg_id)
                self.shell_channel.queue += shell
                self.iopub_channel.queue += iopub
            self.requests.append(msg_id)
            return msg_id

        async def _async_is_alive(self):
            return alive

        def _handle_kernel_info_reply(self, msg):
            self.handled.append(msg)

    return Scripted()


def answered(msg_id):
    return ([message("kernel_info_reply", msg_id)],
            [message("status", msg_id, execution_state="busy"),
             message("status", msg_id, execution_state="idle")])


def wait(kc, timeout=30.0) -> None:
    # in a thread of its own: in a pytest worker that ran the browser tests, Playwright's
    # session-wide sync API keeps an event loop running in this thread (asyncio.run refuses)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, kc.wait_for_ready(timeout=timeout)).result()


def test_ready_on_the_idle_status_of_its_own_request_without_draining():
    def with_stale_traffic(msg_id):  # messages of an earlier request come first
        shell, iopub = answered(msg_id)
        return ([message("kernel_info_reply", "earlier")] + shell,
                [message("status", "earlier", execution_state="idle"),
                 message("stream", msg_id, name="stdout", text="x")] + iopub)

    kc = client([with_stale_traffic])
    wait(kc)
    assert kc.requests == ["info-0"]
    assert [m["parent_header"]["msg_id"] for m in kc.handled] == ["info-0"]
    assert kc.shell_channel.waited == []
    assert kc.iopub_channel.waited == [], "waited for IOPub to fall silent (a 0.2 s drain)"


def test_asks_again_when_iopub_was_not_connected_yet():
    def reply_only(msg_id):  # published before the subscription: lost
        return answered(msg_id)[0], []

    kc = client([reply_only, answered])
    wait(kc)
    assert kc.requests == ["info-0", "info-1"]
    assert [m["parent_header"]["msg_id"] for m in kc.handled] == ["info-1"]
    (waited,) = kc.iopub_channel.waited
    assert waited <= 0.2, "waited longer than jupyter_client (0.2 s) for IOPub"


def test_a_dead_kernel_and_a_silent_one_are_errors():
    with pytest.raises(RuntimeError, match="died"):
        wait(client([], alive=False))
    with pytest.raises(RuntimeError, match="didn't respond"):
        wait(client([]), timeout=0.5)
