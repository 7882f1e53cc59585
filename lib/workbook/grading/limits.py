"""Limits on one submission's execution, and the nbgrader preprocessors that enforce them.

- ``Limits``: cell timeout, total wall time, memory cap, output cap (in bytes).
- ``LimitedKernelManager`` starts each kernel in the sandbox (sandbox.py) through the
  launcher (launcher.py), which asks Linux to kill the kernel when its parent dies,
  exports ``WORKBOOK_PROFILE=ci`` and the thread cap, sets ``RLIMIT_AS`` and ``exec``\\ s
  the real kernel.
- ``GuardedExecute`` (nbgrader's ``Execute`` plus): output capped in bytes while it
  arrives, per-cell timeout shrunk to what is left of the wall time, and recovery when
  the kernel dies or a cell cannot be interrupted -- the notebook is re-run from the top
  with the offending cell replaced by a ``raise``, so every test that can still be graded
  is graded. What happened is recorded in ``RUN_NOTES`` (read by the worker).
- ``StripPassingStderr``: graded cells that did not raise lose their stderr streams
  (a warning must not fail a correct answer; nbgrader scores any stderr as 0); each such
  cell is noted.
- ``LimitOutputBytes``: a last cap on every output after execution (tracebacks too).
- ``RestoreMissingCells``: nbgrader's ``OverwriteCells`` whose re-adding of deleted grade
  cells does not crash (nbgrader 0.9.6 raises ``KeyError`` when the cell before a deleted
  test is not itself a grade or answer cell, or was deleted too); each deleted cell goes
  back after the nearest cell before it that is still there, and the problem is noted.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

from workbook.grading import launcher

# What GuardedExecute observed, per notebook name: {"status": ..., "problems": [...]}.
# A worker grades one submission at a time (threads_per_worker=1), so a module global works.
RUN_NOTES: dict[str, dict] = {}

SANDBOX_PROVISIONER = "workbook-sandbox"  # entry point of sandbox.SandboxProvisioner
TRUNCATED = "\n... output truncated by the grader (more than {limit} bytes) ...\n"
# The note, after a graded cell's id, when StripPassingStderr forgave its stderr.
STDERR_FORGIVEN = "wrote to stderr (a warning?); ignored, the test passed"


@dataclass(frozen=True)
class Limits:
    cell_timeout: int = 120        # seconds per cell
    wall_time: int = 900           # seconds per notebook, re-runs included
    memory_mb: int = 4096          # RLIMIT_AS of the kernel; 0: no cap
    max_output_bytes: int = 100_000  # per cell
    max_reruns: int = 3            # re-runs after a kernel death / unstoppable cell
    sandbox: bool = True           # every kernel in the bubblewrap sandbox (sandbox.py)

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------- nbgrader classes
# nbgrader/jupyter imports stay inside this function: a worker builds the classes once.

@functools.lru_cache(maxsize=None)
def nbgrader_classes():
    """``(LimitedKernelManager, GuardedExecute, StripPassingStderr, LimitOutputBytes,
    RestoreMissingCells)``."""
    import asyncio
    import copy
    import json
    import time

    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbformat.v4 import new_output
    from nbgrader.preprocessors import Execute, NbGraderPreprocessor, OverwriteCells
    from nbgrader.preprocessors.execute import UnresponsiveKernelError
    from traitlets import Bool, Integer

    class LimitedKernelManager(AsyncKernelManager):
        """Starts the kernel through the launcher (memory cap, ci profile), in the sandbox
        (sandbox.py) unless ``sandbox`` is off."""

        memory_mb = Integer(0).tag(config=True)
        sandbox = Bool(True, help="run the kernel in the bubblewrap sandbox").tag(config=True)

        @property
        def kernel_spec(self):
            # the spec's documented fields choose the sandbox: its provisioner (entry
            # point), and interrupts as messages (a SIGINT to the process group would
            # stop bubblewrap itself, and the kernel with it)
            spec = AsyncKernelManager.kernel_spec.fget(self)
            if spec is not None and self.sandbox:
                spec.interrupt_mode = "message"
                spec.metadata = {**spec.metadata, "kernel_provisioner": {
                    "provisioner_name": SANDBOX_PROVISIONER}}
            return spec

        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            return launcher.command(cmd, memory_mb=self.memory_mb)

    def _output_size(out) -> int:
        if out.get("output_type") == "stream":
            return len(out.get("text", "").encode("utf-8", "replace"))
        return len(json.dumps(out, default=str))

    def _error(ename: str, evalue: str):
        return new_output("error", ename=ename, evalue=evalue,
                          traceback=[f"{ename}: {evalue}"])

    class GuardedExecute(Execute):
        """nbgrader's Execute with byte-capped output, wall time and crash recovery."""

        wall_time = Integer(900).tag(config=True)
        max_output_bytes = Integer(100_000).tag(config=True)
        max_reruns = Integer(3).tag(config=True)

        def __init__(self, *args, **kwargs):
            kwargs["kernel_manager_class"] = LimitedKernelManager
            super().__init__(*args, **kwargs)
            self.shutdown_kernel = "immediate"
            self._cell_timeout = self.timeout or 10 ** 6
            self._bytes, self._current = {}, -1
            self._deadline = time.monotonic() + self.wall_time
            self._notes = {"status": "ok", "problems": []}

        # -- output, capped while it arrives (a 50 MB line never reaches the notebook)
        def output(self, outs, msg, display_id, cell_index):
            used = self._bytes.get(cell_index, 0)
            limit = self.max_output_bytes
            if used > limit:  # already truncated: drop the rest
                return None
            out = super().output(outs, msg, display_id, cell_index)
            if out is None:
                return out
            if out.get("output_type") == "error":
                return out  # decides the score: always kept (clipped by LimitOutputBytes)
            size = _output_size(out)
            if used + size > limit:
                room = max(0, limit - used)
                if out.get("output_type") == "stream":
                    out["text"] = (out["text"].encode("utf-8", "replace")[:room]
                                   .decode("utf-8", "ignore") + TRUNCATED.format(limit=limit))
                else:
                    outs.remove(out)
                    outs.append(new_output("stream", name="stdout",
                                           text=TRUNCATED.format(limit=limit)))
                self._bytes[cell_index] = limit + 1
            else:
                self._bytes[cell_index] = used + size
            return out

        # -- one cell, within what is left of the wall time
        def preprocess_cell(self, cell, resources, index):
            self._current = index
            self._bytes[index] = 0
            if cell.cell_type != "code":
                return cell, resources
            left = self._deadline - time.monotonic()
            if left <= 0:
                cell.outputs = [_error("WallTimeExceeded",
                                       f"not run: the submission used up its {self.wall_time} s")]
                self._notes["problems"].append(f"cell {index}: not run (wall time used up)")
                self._mark("timeout")
                return cell, resources
            self.timeout = max(1, int(min(self._cell_timeout, left)))
            cell, resources = super().preprocess_cell(cell, resources, index)
            if any(o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
                   for o in cell.outputs):
                self._notes["problems"].append(
                    f"cell {index}: interrupted after {self.timeout} s")
                self._mark("timeout")
            return cell, resources

        def _mark(self, status: str) -> None:
            order = ["ok", "timeout", "kernel-died"]
            if order.index(status) > order.index(self._notes["status"]):
                self._notes["status"] = status

        # -- the whole notebook, re-run without a cell that kills or hangs the kernel
        def preprocess(self, nb, resources=None, km=None):
            key = (resources or {}).get("unique_key", "notebook")
            self._notes = RUN_NOTES.setdefault(key, {"status": "ok", "problems": []})
            self._deadline = time.monotonic() + self.wall_time
            original = copy.deepcopy(nb)
            replaced: dict[int, tuple[str, str]] = {}
            for attempt in range(self.max_reruns + 1):
                work = copy.deepcopy(original)
                for idx, (ename, why) in replaced.items():
                    work.cells[idx].source = f"raise RuntimeError({why!r})"
                self._bytes = {}
                self._current = -1
                try:
                    out, resources = super().preprocess(work, resources, km)
                except (DeadKernelError, CellTimeoutError, UnresponsiveKernelError,
                        asyncio.TimeoutError, RuntimeError) as err:
                    idx = self._current
                    if idx < 0 and attempt < self.max_reruns \
                            and time.monotonic() < self._deadline:
                        # no cell ran: the kernel did not start -- the grader's trouble, not
                        # the student's; again
                        self._notes["problems"].append(
                            f"the kernel did not start ({type(err).__name__}: {err}); retried")
                        continue
                    if isinstance(err, DeadKernelError):
                        ename, why = "KernelDied", "the kernel died while running this cell"
                        self._mark("kernel-died")
                    else:
                        ename = "CellTimeoutError"
                        why = ("this cell could not be interrupted after its time limit "
                               f"({self.timeout} s)")
                        self._mark("timeout")
                    self._notes["problems"].append(f"cell {idx}: {why}")
                    if idx < 0 or idx in replaced or attempt == self.max_reruns \
                            or time.monotonic() >= self._deadline:
                        out = self._give_up(original, work, idx, ename, why)
                        break
                    replaced[idx] = (ename, why + "; skipped when the notebook was re-run")
                    continue
                break
            # restore what the student wrote in the replaced cells, keep the error shown
            for idx, (ename, why) in replaced.items():
                if idx < len(out.cells):
                    out.cells[idx].source = original.cells[idx].source
                    out.cells[idx].outputs = [_error(ename, why)]
            self.nb = out
            return out, resources

        def _give_up(self, original, partial, idx, ename, why):
            """Keep the cells run before ``idx``; the rest fail with ``why``."""
            out = copy.deepcopy(original)
            for i, cell in enumerate(out.cells):
                if cell.cell_type != "code":
                    continue
                if 0 <= idx and i < idx:
                    cell.outputs = partial.cells[i].get("outputs", [])
                else:
                    cell.outputs = [_error(ename, why if i == idx else
                                           "not run: " + why + " in an earlier cell")]
            return out

    class StripPassingStderr(NbGraderPreprocessor):
        """Graded code cells that did not raise: drop their stderr streams before scoring."""

        def preprocess_cell(self, cell, resources, index):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                outs = cell.get("outputs", [])
                if not any(o.get("output_type") == "error" for o in outs):
                    cell.outputs = [o for o in outs if not (
                        o.get("output_type") == "stream" and o.get("name") == "stderr")]
                    if len(cell.outputs) < len(outs):  # say so: plain nbgrader would score 0
                        key = resources.get("unique_key", "notebook")
                        notes = RUN_NOTES.setdefault(key, {"status": "ok", "problems": []})
                        notes["problems"].append(
                            f"{meta.get('grade_id', f'cell {index}')}: {STDERR_FORGIVEN}")
            return cell, resources

    class LimitOutputBytes(NbGraderPreprocessor):
        """Every code cell's outputs (streams, data, tracebacks) under ``max_bytes``."""

        max_bytes = Integer(100_000).tag(config=True)

        def preprocess_cell(self, cell, resources, index):
            if cell.cell_type != "code":
                return cell, resources
            kept, used = [], 0
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["evalue"] = _clip(out.get("evalue", ""), self.max_bytes // 4)
                    out["traceback"] = [_clip(t, self.max_bytes // 4)
                                        for t in out.get("traceback", [])[:100]]
                size = _output_size(out)
                if used + size > self.max_bytes:
                    if out.get("output_type") == "stream":
                        out["text"] = _clip(out["text"], max(0, self.max_bytes - used))
                        kept.append(out)
                    elif out.get("output_type") == "error":
                        kept.append(out)  # clipped above; it decides the score
                    used = self.max_bytes
                    continue
                used += size
                kept.append(out)
            cell.outputs = kept
            return cell, resources

    def _clip(text: str, limit: int) -> str:
        data = text.encode("utf-8", "replace")
        if len(data) <= limit:
            return text
        return data[:limit].decode("utf-8", "ignore") + TRUNCATED.format(limit=limit)

    class RestoreMissingCells(OverwriteCells):
        """OverwriteCells, putting deleted grade cells back where they were."""

        def add_missing_grade_cells(self, nb, resources):
            source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
            order = [cell.name for cell in source_nb.source_cells]  # the release's order
            grade_cells = {cell.name: cell for cell in source_nb.grade_cells}
            answers = {cell.name for cell in source_nb.solution_cells}
            source = {cell.name: cell for cell in source_nb.source_cells}

            def present():
                return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]

            restored = []
            for name in order:
                if name not in grade_cells or name in present():
                    continue
                ids = present()
                before = [n for n in order[:order.index(name)] if n in ids]
                at = ids.index(before[-1]) + 1 if before else 0
                nb.cells.insert(at, self.missing_cell_transform(
                    source[name], grade_cells[name].max_score, is_solution=name in answers))
                restored.append(name)
            if restored:
                key = resources.get("unique_key", "notebook")
                notes = RUN_NOTES.setdefault(key, {"status": "ok", "problems": []})
                notes["problems"].append("cells deleted from the submission were put back: "
                                         + ", ".join(restored))
            return nb, resources

    return (LimitedKernelManager, GuardedExecute, StripPassingStderr, LimitOutputBytes,
            RestoreMissingCells)

