"""Parallel, resumable autograding with nbgrader's Python API on a Dask cluster.

    client process                              Dask workers (long-lived processes)
    ------------------------------------        -----------------------------------------
    find submissions, hash each one             private scratch course per worker: a temp
    skip those graded with the same hash        sqlite gradebook seeded once with the
    ship the assignment spec (cells) once  -->  assignment's cells (from the real gradebook)
    one task per student x assignment      -->  nbgrader autograde (GuardedExecute, limits)
    ONE writer: each result in a           <--  scores per cell, autograded notebooks,
    transaction of the real gradebook           status per notebook, timing
    (grades + state rows), notebooks copied
    into grading/autograded/

The state table ``workbook_autograde`` lives in the gradebook's own database, written in
the same transaction as the grades, so a SIGKILL at any moment loses no finished grade
and a re-run grades only what is new or changed (or everything with ``force``).

Statuses per notebook: ``ok``, ``timeout``, ``kernel-died``, ``invalid-notebook``,
``missing``, ``late`` (graded normally but handed in after the due date) and ``error``
(nbgrader itself failed on this submission; grades set to 0, see the detail).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from workbook_grading import sandbox
from workbook_grading.config import COURSE_ID, course_config, prepare_gradebook, repo_root
from workbook_grading.launcher import KERNEL_THREADS_ENV, kernel_env
from workbook_grading.limits import RUN_NOTES, Limits, nbgrader_classes
from workbook_grading.results import Grade, NotebookResult, SubmissionResult
from workbook_grading.status import Status

# In the detail of every notebook graded with --unsandboxed (the report says so on top).
UNSANDBOXED_NOTE = ("graded WITHOUT the sandbox (--unsandboxed): the student's code ran with "
                    "the grader's rights")
STATUSES = tuple(Status)
# which status a notebook shows when several apply (worst first)



class GradingError(RuntimeError):
    """The grader itself cannot run (no such assignment, gradebook unusable, no cluster)."""


# ------------------------------------------------------------------------ state table

def _state_table():
    from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text

    meta = MetaData()
    return Table(
        "workbook_autograde", meta,
        Column("assignment", String(128), primary_key=True),
        Column("student", String(128), primary_key=True),
        Column("notebook", String(128), primary_key=True),
        Column("submission_hash", String(64), nullable=False),
        Column("status", String(32), nullable=False),
        Column("detail", Text),
        Column("seconds", Float),
        Column("graded_at", DateTime),
        Column("writes", Integer, nullable=False, default=1),  # how many times recorded
    )


STATE = _state_table()


def read_state(db_url: str) -> list[dict]:
    """Every row of the state table (empty when nothing was autograded yet)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, COURSE_ID) as gb:
        STATE.create(gb.engine, checkfirst=True)
        return [dict(r._mapping) for r in gb.db.execute(STATE.select())]


# ----------------------------------------------------------------------- submissions

@dataclass
class Submission:
    assignment: str
    student: str
    path: Path            # grading/submitted/<student>/<assignment>
    hash: str = ""

    def files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.path.glob("*.ipynb"))}

    def timestamp(self) -> str | None:
        ts = self.path / "timestamp.txt"
        return ts.read_text().strip() or None if ts.is_file() else None


def find_submissions(root: Path, assignments: list[str] | None = None,
                     students: list[str] | None = None) -> list[Submission]:
    submitted = root / "grading" / "submitted"
    found = []
    if not submitted.is_dir():
        return found
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        if students and student_dir.name not in students:
            continue
        for adir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignments and adir.name not in assignments:
                continue
            found.append(Submission(adir.name, student_dir.name, adir))
    return found


def submission_hash(files: dict[str, bytes], timestamp: str | None, spec_hash: str) -> str:
    h = hashlib.sha256()
    for name, data in sorted(files.items()):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    h.update(b"timestamp\0" + (timestamp or "").encode())
    h.update(b"spec\0" + spec_hash.encode())
    return h.hexdigest()


# ------------------------------------------------------------- the assignment's spec

def ensure_in_gradebook(root: Path, db_url: str, assignment: str) -> None:
    """Seed the real gradebook with ``assignment``'s cells if it lacks them.

    ``workbook release`` normally did this already; here nbgrader's generate_assignment
    runs into a temporary release folder so that notebooks/ is never touched.
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.apps import NbGraderAPI

    course_config(root, db_url=db_url)  # puts alembic on PATH
    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            if gb.find_assignment(assignment).notebooks:
                return
        except MissingEntry:
            pass
    if not (root / "solutions" / assignment).is_dir():
        raise GradingError(f"assignment {assignment!r} is neither in the gradebook nor in "
                           f"{root / 'solutions'}")
    with tempfile.TemporaryDirectory(prefix="workbook-release-") as tmp:
        api = NbGraderAPI(config=course_config(root, db_url=db_url, release_directory=tmp))
        result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise GradingError(f"nbgrader could not generate {assignment}:\n{result.get('log', '')}")


def assignment_spec(root: Path, db_url: str, assignment: str) -> dict:
    """What a worker needs to grade ``assignment``: its cells (from the real gradebook),
    its due date and the extra files of solutions/<assignment> (data the notebook reads)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, COURSE_ID) as gb:
        a = gb.find_assignment(assignment)
        notebooks = []
        for nb in a.notebooks:
            notebooks.append({
                "name": nb.name,
                "kernelspec": nb.kernelspec,
                "grade_cells": [{"name": c.name, "max_score": c.max_score,
                                 "cell_type": c.cell_type} for c in nb.grade_cells],
                "solution_cells": [c.name for c in nb.solution_cells],
                "task_cells": [{"name": c.name, "max_score": c.max_score,
                                "cell_type": c.cell_type} for c in nb.task_cells],
                "source_cells": [{"name": c.name, "cell_type": c.cell_type, "locked": c.locked,
                                  "source": c.source, "checksum": c.checksum}
                                 for c in nb.source_cells],
            })
        duedate = a.duedate
    files = {}
    src = root / "solutions" / assignment
    if src.is_dir():
        for p in sorted(src.rglob("*")):
            rel = p.relative_to(src)
            if p.is_file() and p.suffix != ".ipynb" and not any(
                    part in (".ipynb_checkpoints", "__pycache__") for part in rel.parts):
                files[str(rel)] = p.read_bytes()
    spec = {"assignment": assignment, "duedate": duedate, "notebooks": notebooks,
            "files": files}
    digest = hashlib.sha256(json.dumps(
        {**spec, "duedate": str(duedate),
         "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}},
        sort_keys=True).encode()).hexdigest()
    spec["hash"] = digest
    return spec


# -------------------------------------------------------------------- worker side

_WORKER: dict = {"base": None, "courses": {}, "watchdog": False, "frozen": False}


def grading_config(root: Path, db_url: str, limits: Limits):
    """course_config plus the guarded execution pipeline and the limits."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearOutput,
                                        DeduplicateIds, IgnorePattern, LimitOutput,
                                        OverwriteKernelspec, SaveAutoGrades)

    kernel_manager, guarded_execute, strip_stderr, limit_bytes, restore = nbgrader_classes()
    c = course_config(root, db_url=db_url)
    c.Autograde.sanitize_preprocessors = [
        ClearOutput, DeduplicateIds, OverwriteKernelspec, restore, CheckCellMetadata]
    c.RestoreMissingCells.add_missing_cells = True
    c.Autograde.autograde_preprocessors = [
        guarded_execute, strip_stderr, IgnorePattern, ClearMetadataPreprocessor, limit_bytes,
        LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.GuardedExecute.timeout = int(limits.cell_timeout)
    c.GuardedExecute.wall_time = int(limits.wall_time)
    c.GuardedExecute.max_output_bytes = int(limits.max_output_bytes)
    c.GuardedExecute.max_reruns = int(limits.max_reruns)
    c.LimitedKernelManager.memory_mb = int(limits.memory_mb)
    c.LimitedKernelManager.sandbox = bool(limits.sandbox)
    c.LimitOutputBytes.max_bytes = int(limits.max_output_bytes)
    c.LimitOutput.max_lines = -1       # capped in bytes instead
    return c


def _watch_parent() -> None:
    """In a local cluster: leave when the command that started us is gone (SIGKILL)."""
    if _WORKER["watchdog"]:
        return
    _WORKER["watchdog"] = True
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                _kill_children()
                os._exit(3)

    threading.Thread(target=watch, name="workbook-parent-watch", daemon=True).start()


def _kill_children() -> None:
    """SIGKILL the process group of each of this process's children (the sandboxes of its
    kernels, each started in a session of its own): bubblewrap's --die-with-parent does
    not fire when its parent dies while it starts."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:  # ppid
            try:
                os.killpg(int(fields[2]), signal.SIGKILL)  # pgid
            except OSError:
                pass


def _freeze_once() -> None:
    """In a worker of our own local cluster, after its first submission: move what is alive
    then (the imports, mostly) out of the garbage collector's sight. Each full collection
    walked it all -- about 0.1 s, during grading and several times at exit, which made
    closing the cluster take a second."""
    if _WORKER["frozen"]:
        return
    import gc

    gc.collect()
    gc.freeze()
    _WORKER["frozen"] = True


def _scratch_course(spec: dict, limits: Limits):
    """(root, db_url, api) of this worker's private course for ``spec``, seeded once."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    key = (spec["hash"], limits)
    if key in _WORKER["courses"]:
        return _WORKER["courses"][key]
    if _WORKER["base"] is None:
        _WORKER["base"] = Path(tempfile.mkdtemp(prefix=f"workbook-grader-{os.getpid()}-"))
    root = _WORKER["base"] / f"c{len(_WORKER['courses'])}"
    src = root / "solutions" / spec["assignment"]
    src.mkdir(parents=True)
    for rel, data in spec["files"].items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    db_url = f"sqlite:///{root / 'gradebook.db'}"
    prepare_gradebook(db_url)
    config = grading_config(root, db_url, limits)
    name = spec["assignment"]
    with Gradebook(db_url, COURSE_ID) as gb:
        gb.update_or_create_assignment(name, duedate=spec["duedate"])
        for nb in spec["notebooks"]:
            gb.update_or_create_notebook(nb["name"], name, kernelspec=nb["kernelspec"])
            for c in nb["grade_cells"]:
                gb.update_or_create_grade_cell(c["name"], nb["name"], name,
                                               max_score=c["max_score"], cell_type=c["cell_type"])
            for c in nb["solution_cells"]:
                gb.update_or_create_solution_cell(c, nb["name"], name)
            for c in nb["task_cells"]:
                gb.update_or_create_task_cell(c["name"], nb["name"], name,
                                              max_score=c["max_score"], cell_type=c["cell_type"])
            for c in nb["source_cells"]:
                gb.update_or_create_source_cell(c["name"], nb["name"], name, **{
                    k: c[k] for k in ("cell_type", "locked", "source", "checksum")})
    course = (root, db_url, NbGraderAPI(config=config))
    _WORKER["courses"][key] = course
    return course


def _valid_notebook(data: bytes) -> str | None:
    """None when nbgrader can read ``data``; else why not."""
    import nbformat

    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # NotJSONError, ValidationError, UnicodeDecodeError, ...
        return f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"
    return None


def quiet_warnings() -> None:
    """nbgrader's gradebook trips SQLAlchemy's autoflush warning on every submission."""
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", message="Object of type <Submitted", category=SAWarning)
    warnings.filterwarnings("ignore", module="nbformat")


def grade_submission(task: dict, spec: dict) -> SubmissionResult:
    """Grade one student's submission of one assignment (runs on a Dask worker)."""
    from nbgrader.api import Gradebook, MissingEntry

    quiet_warnings()
    start = time.perf_counter()
    os.environ["WORKBOOK_PROFILE"] = "ci"
    if task.get("watch_parent"):
        _watch_parent()
    limits = Limits(**task["limits"])
    root, db_url, api = _scratch_course(spec, limits)
    assignment, student = task["assignment"], task["student"]
    known = [nb["name"] for nb in spec["notebooks"]]
    notebooks = {name: NotebookResult() for name in known}

    sub_dir = root / "grading" / "submitted" / student / assignment
    out_dir = root / "grading" / "autograded" / student / assignment
    shutil.rmtree(sub_dir, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    sub_dir.mkdir(parents=True)
    extra = []
    for fname, data in task["files"].items():
        stem = fname[:-len(".ipynb")]
        if stem not in notebooks:
            extra.append(fname)
            continue
        why = _valid_notebook(data)
        if why:
            notebooks[stem].status = Status.INVALID
            notebooks[stem].problems.append(f"{fname} cannot be read: {why}")
            continue
        (sub_dir / fname).write_bytes(data)
    if task.get("timestamp"):
        (sub_dir / "timestamp.txt").write_text(task["timestamp"] + "\n")
    for name, nb in notebooks.items():
        if nb.status == Status.OK and not (sub_dir / f"{name}.ipynb").exists():
            nb.status = Status.MISSING
            nb.problems.append(f"no {name}.ipynb was submitted")

    RUN_NOTES.clear()
    error = None
    if any((sub_dir / f"{n}.ipynb").exists() for n in known):
        result = api.autograde(assignment, student, force=True, create=True)
        if not result["success"]:
            error = (result.get("error") or "") + "\n" + (result.get("log") or "")
            error = "\n".join(error.strip().splitlines()[-15:])
    else:  # nothing nbgrader could read: every notebook scores 0
        with Gradebook(db_url, COURSE_ID) as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(assignment, student)

    with Gradebook(db_url, COURSE_ID) as gb:
        for name, nb in notebooks.items():
            if not limits.sandbox:
                nb.problems.append(UNSANDBOXED_NOTE)
            notes = RUN_NOTES.get(name)
            if notes and nb.status == Status.OK:
                nb.status = Status(notes["status"])
            if notes:
                nb.problems.extend(notes["problems"])
            if error and nb.status == Status.OK:
                nb.status = Status.ERROR
                nb.problems.append("nbgrader failed: " + error)
            try:
                sn = gb.find_submission_notebook(name, assignment, student)
            except MissingEntry:
                continue
            for g in sn.grades:
                if nb.status.ran:
                    nb.grades[g.name] = Grade(g.auto_score, g.needs_manual_grade)
                else:  # nothing to grade: code cells score 0; written answers stay manual
                    manual = g.cell_type == "markdown"
                    nb.grades[g.name] = Grade(None if manual else 0.0, manual)
            nb.comments = {c.name: c.auto_comment for c in sn.comments}
            nb.late_penalty = sn.late_submission_penalty
            path = out_dir / f"{name}.ipynb"
            if nb.status.ran and path.is_file():
                nb.autograded = path.read_bytes()
                flag_unanswered(nb)
        try:
            gb.remove_submission(assignment, student)  # keep the scratch gradebook small
        except MissingEntry:
            pass
    for spec_nb in spec["notebooks"]:
        nb = notebooks[spec_nb["name"]]
        if nb.status.ran and task.get("verify_seed"):
            _verify(spec, spec_nb, sub_dir / f"{spec_nb['name']}.ipynb", nb,
                    task["verify_seed"], limits)
    shutil.rmtree(sub_dir, ignore_errors=True)
    shutil.rmtree(out_dir, ignore_errors=True)
    if task.get("watch_parent"):  # our own worker process (not another cluster's)
        _freeze_once()
    return SubmissionResult(assignment, student, task["hash"], task.get("timestamp"), notebooks,
                            extra_files=extra, seconds=time.perf_counter() - start,
                            worker=os.getpid())


def flag_unanswered(nb: NotebookResult) -> None:
    """Written answers left empty or as released score 0, with a comment saying so
    (nbgrader's own check gives an unchanged one 0 and "No response."; an emptied one
    would wait for a person). The formgrader shows both; a person can still change them."""
    import nbformat

    from workbook_grading import markers

    for cell in nbformat.reads(nb.autograded.decode("utf-8"), as_version=4).cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid not in nb.grades or not markers.is_written_answer(cell):
            continue
        why = markers.unanswered(cell.source)
        if why:
            nb.grades[gid] = Grade(0.0, needs_manual_grade=False)
            nb.comments[gid] = why


def _verify(spec: dict, spec_nb: dict, submitted: Path, nb: NotebookResult, seed: int,
            limits: Limits) -> None:
    """Check the notebook's answers outside the student's kernel (verify.py): a graded
    cell whose verification fails scores 0, and the notebook is a ``mismatch`` when it
    had points in the notebook; the autograded notebook shows why under that cell."""
    import nbformat

    from workbook_grading import verify

    verifier = verify.verifier_for(spec["assignment"], spec_nb["name"])
    if verifier is None:
        return
    # verification only takes points away: the cells that earned none need no second look
    earned = {cell for cell, grade in nb.grades.items() if (grade.auto_score or 0) > 0}
    verifier = dataclasses.replace(verifier, cells={
        cell: build for cell, build in verifier.cells.items() if cell in earned})
    if not verifier.cells:
        return
    grade_ids = {c["name"] for c in spec_nb["grade_cells"]}
    answers = set(spec_nb["solution_cells"])
    release = {c["name"]: {"source": c["source"], "solution": c["name"] in answers,
                           "grade": c["name"] in grade_ids}
               for c in spec_nb["source_cells"] if c["cell_type"] == "code"}
    submission = [{"grade_id": c.metadata.get("nbgrader", {}).get("grade_id"),
                   "source": c.source}
                  for c in nbformat.read(submitted, as_version=4).cells
                  if c.cell_type == "code"]
    verdicts = verify.verify(verifier, release, submission, seed=seed,
                             cell_seconds=limits.cell_timeout,
                             wall_time=min(limits.wall_time, 600),
                             use_sandbox=limits.sandbox, env=kernel_env(os.environ))
    failed = {}
    for cell, verdict in verdicts.items():
        grade = nb.grades.get(cell)
        if verdict.passed or grade is None:
            continue
        reason = ("it calls the course library's reference answer to this exercise"
                  if verdict.delegated else verdict.reason)
        failed[cell] = reason
        nb.problems.append(f"{cell}: passed in the notebook ({grade.auto_score:g} point(s), "
                           f"not counted) but not when re-run outside it on new inputs: "
                           f"{reason}")
        grade.auto_score = 0.0
        if nb.status == Status.OK:
            nb.status = Status.MISMATCH
    if failed and nb.autograded is not None:
        graded = nbformat.reads(nb.autograded.decode("utf-8"), as_version=4)
        for c in graded.cells:
            reason = failed.get(c.metadata.get("nbgrader", {}).get("grade_id"))
            if reason and not any(o.get("output_type") == "error" for o in c.get("outputs", [])):
                c.outputs.append(nbformat.v4.new_output(
                    "error", ename="VerificationFailed",
                    evalue=f"re-run outside the notebook on new inputs: {reason}",
                    traceback=[f"VerificationFailed: {reason}"]))
        nb.autograded = nbformat.writes(graded).encode("utf-8")


# --------------------------------------------------------------------- client side

class Recorder:
    """The one writer of the real gradebook.

    Each result is written in a transaction of its own: its grades and its state rows
    land together or not at all (nbgrader's ``Gradebook`` commits the student and
    submission rows itself, before them; a result whose state row is missing is graded
    again on the next run). A result that cannot be written is rolled back and reported;
    the others are kept."""

    def __init__(self, root: Path, db_url: str):
        from nbgrader.api import Gradebook

        quiet_warnings()
        self.root = root
        self.gb = Gradebook(db_url, COURSE_ID)
        STATE.create(self.gb.engine, checkfirst=True)

    def close(self) -> None:
        self.gb.close()

    def graded_hashes(self) -> dict[tuple[str, str], set[str]]:
        """{(assignment, student): {hashes of its notebooks' rows}}."""
        out: dict[tuple[str, str], set[str]] = {}
        for r in self.gb.db.execute(STATE.select()):
            out.setdefault((r.assignment, r.student), set()).add(r.submission_hash)
        return out

    def record(self, result: SubmissionResult) -> dict[str, Status]:
        """Write ``result``; return {notebook: final status}, or raise why it could not be."""
        (statuses,) = self.record_batch([result])
        if isinstance(statuses, Exception):
            raise statuses
        return statuses

    def record_batch(self, results: list[SubmissionResult]
                     ) -> list[dict[str, Status] | Exception]:
        """Write each of ``results``; for each, its {notebook: status}, or the exception
        that kept it from being written (it was rolled back)."""
        out: list[dict[str, Status] | Exception] = []
        for result in results:
            try:
                statuses = self._write(result)
                self.gb.db.commit()
            except Exception as err:  # noqa: BLE001 - one result must not stop the others
                self.gb.db.rollback()
                out.append(err)
            else:
                out.append(statuses)
        return out

    def _write(self, result: SubmissionResult) -> dict[str, Status]:
        from nbgrader.utils import parse_utc
        from sqlalchemy import and_

        gb = self.gb
        assignment, student = result.assignment, result.student
        # 1. the autograded notebooks (atomic replace; a re-run simply rewrites them)
        out_dir = self.root / "grading" / "autograded" / student / assignment
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, nb in result.notebooks.items():
            target = out_dir / f"{name}.ipynb"
            if nb.autograded is not None:
                tmp = target.with_suffix(".ipynb.tmp")
                tmp.write_bytes(nb.autograded)
                os.replace(tmp, target)
            elif target.exists():
                target.unlink()
        if result.timestamp:
            (out_dir / "timestamp.txt").write_text(result.timestamp + "\n")

        # 2. grades and state, in the caller's transaction
        timestamp = parse_utc(result.timestamp) if result.timestamp else None
        gb.update_or_create_student(student)
        kwargs = {"timestamp": timestamp} if timestamp else {}
        sub = gb.update_or_create_submission(assignment, student, **kwargs)
        late = bool(timestamp) and (sub.total_seconds_late or 0) > 0
        statuses = {}
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        previous = {r.notebook: r.writes for r in gb.db.execute(STATE.select().where(and_(
            STATE.c.assignment == assignment, STATE.c.student == student)))}
        gb.db.execute(STATE.delete().where(and_(STATE.c.assignment == assignment,
                                                STATE.c.student == student)))
        for name, nb in result.notebooks.items():
            sn = gb.find_submission_notebook(name, assignment, student)
            for g in sn.grades:
                new = nb.grades.get(g.name)
                if new is None:
                    continue
                g.auto_score = new.auto_score
                g.needs_manual_grade = new.needs_manual_grade
            for c in sn.comments:
                if c.name in nb.comments:
                    c.auto_comment = nb.comments[c.name]
            if nb.late_penalty is not None:
                sn.late_submission_penalty = nb.late_penalty
            status = Status(nb.status)
            if status == Status.OK and late:
                status = Status.LATE
            sn.flagged = status.flagged
            statuses[name] = status
            gb.db.execute(STATE.insert().values(
                assignment=assignment, student=student, notebook=name,
                submission_hash=result.hash, status=str(status),
                detail="\n".join(nb.problems)[:20_000] or None,
                seconds=result.seconds, graded_at=now,
                writes=previous.get(name, 0) + 1))
        return statuses


@dataclass
class Summary:
    graded: int = 0
    skipped: int = 0
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    interrupted: int = 0  # submissions left ungraded by an interrupt (Ctrl-C)

    def report(self) -> str:
        lines = [f"graded {self.graded} submission(s), {self.skipped} unchanged and skipped, "
                 f"in {self.seconds:.1f} s"]
        if self.interrupted:
            lines.append(f"interrupted: {self.interrupted} submission(s) not graded; every "
                         "grade above is saved -- run the same command again for the rest")
        if self.statuses:
            lines.append("notebooks: " + ", ".join(f"{n} {s}" for s, n in
                                                    sorted(self.statuses.items())))
        if self.problems:
            lines.append(f"problems ({len(self.problems)}):")
            lines.extend("  " + p for p in self.problems)
        return "\n".join(lines)


def _failed_result(task: dict, spec: dict, err: BaseException) -> SubmissionResult:
    """The grader crashed on this submission (e.g. the worker died): zeros, status error."""
    why = f"the grader failed on this submission: {type(err).__name__}: {err}"
    notebooks = {nb["name"]: NotebookResult(Status.ERROR, [why], grades={
                     c["name"]: Grade(0.0) for c in nb["grade_cells"] if c["cell_type"] == "code"})
                 for nb in spec["notebooks"]}
    return SubmissionResult(task["assignment"], task["student"], task["hash"],
                            task.get("timestamp"), notebooks)


def autograde(assignments: list[str] | None = None, *, root: Path | None = None,
              db_url: str | None = None, workers: int | None = None,
              scheduler: str | None = None, limits: Limits = Limits(), force: bool = False,
              students: list[str] | None = None, verify: Callable[[str], bool] | None = None,
              progress: bool = True,
              log: Callable[[str], None] = print) -> Summary:
    """Grade every new or changed submission; see the module docstring. ``verify``: which
    students' answers are verified outside the kernel (default: all; tests narrow it)."""
    start = time.perf_counter()
    root = Path(root) if root is not None else repo_root()
    db_url = db_url or course_config(root).CourseDirectory.db_url
    summary = Summary()
    subs = find_submissions(root, assignments, students)
    if assignments:
        missing = sorted(set(assignments) - {s.assignment for s in subs})
        for a in missing:
            log(f"no submissions of {a} in {root / 'grading' / 'submitted'}")
    if not subs:
        summary.seconds = time.perf_counter() - start
        return summary
    if limits.sandbox and not scheduler:  # (another cluster's workers check their own)
        try:
            sandbox.check()
        except sandbox.SandboxUnavailable as err:
            raise GradingError(str(err)) from None
        # sandboxed kernels read the data cache but cannot write it: fill it first
        from workbook.data import prepare_caches

        prepare_caches()
    local = None if scheduler else _local_workers(workers, len(subs))

    specs = {}
    for name in sorted({s.assignment for s in subs}):
        ensure_in_gradebook(root, db_url, name)
        specs[name] = assignment_spec(root, db_url, name)

    recorder = Recorder(root, db_url)
    seed = secrets.randbits(63)  # the verification's inputs: new for every run, never shown
    try:
        done = recorder.graded_hashes()
        tasks = []
        for s in subs:
            files = s.files()
            s.hash = submission_hash(files, s.timestamp(), specs[s.assignment]["hash"])
            if not force and done.get((s.assignment, s.student)) == {s.hash}:
                summary.skipped += 1
                continue
            tasks.append({"assignment": s.assignment, "student": s.student, "files": files,
                          "timestamp": s.timestamp(), "hash": s.hash,
                          "verify_seed": seed if verify is None or verify(s.student) else None,
                          "limits": limits.as_dict(), "watch_parent": scheduler is None})
        if tasks:
            try:
                _run(tasks, specs, recorder, summary, scheduler=scheduler, local=local,
                     progress=progress)
            except KeyboardInterrupt:  # Ctrl-C: each result is recorded in a transaction
                summary.interrupted = len(tasks) - summary.graded
    finally:
        recorder.close()
    summary.seconds = time.perf_counter() - start
    return summary


@contextlib.contextmanager
def _interrupts_deferred():
    """A Ctrl-C while the body runs takes effect after it (in the main thread; elsewhere
    signals cannot be handled anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if got:
        if callable(previous):
            previous(signal.SIGINT, None)  # Python's own raises KeyboardInterrupt
        elif previous == signal.SIG_DFL:
            os.kill(os.getpid(), signal.SIGINT)


@contextlib.contextmanager
def local_cluster(n: int, env: dict):
    """Our own Dask cluster on this machine: ``n`` worker processes, one task at a time
    each, with environment ``env`` (the whole of it).

    The workers are forked from a server process that has made their imports
    (multiprocessing's ``forkserver``, preloading ``workbook_grading.preload``), not
    started as fresh interpreters (``spawn``, Dask's default) that each import Dask and
    nbgrader again: 1.8 s of CPU per worker, all at once when the command starts. A forked worker has the environment its server started
    with (perhaps in an earlier call of this process): hence the whole ``env``.

    Dask's background chores are slowed to what a batch job needs: its sampling profiler
    (a thread looking at every stack each 10 ms in each worker) is off, nobody reads it;
    the event-loop watch (every 20 ms in each server: a blocked loop is reported after 3
    s anyway), the system monitor (for a dashboard we do not show) and the nanny's look
    at its worker's memory (every 0.1 s; a runaway kernel is capped by its own memory
    limit) run once a second or less. Measured with two idle workers: 78 -> 12 ms of CPU
    per second, most of it in this process, beside the workers it should leave the cores
    to."""
    import logging
    import multiprocessing

    import dask
    from distributed import LocalCluster

    settings = {"distributed.worker.profile.enabled": False,
                "distributed.admin.tick.interval": "1s",
                "distributed.admin.system-monitor.interval": "5s",
                "distributed.worker.memory.monitor-interval": "1s"}
    fork = "forkserver" in multiprocessing.get_all_start_methods()
    if fork:
        settings["distributed.worker.multiprocessing-method"] = "forkserver"
    with dask.config.set(settings):  # for the cluster's life: a worker may be restarted
        if fork:
            from distributed.utils import get_mp_context

            # after Dask's own preload list (set on its first call), before the server
            # starts; a server already running (an earlier call in this process) keeps
            # the preloads it started with
            get_mp_context().set_forkserver_preload(["workbook_grading.preload"])
        with _interrupts_deferred():  # half-started workers die with tracebacks
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   env=env, silence_logs=logging.ERROR,
                                   # a free port: several graders on one machine (CI)
                                   # would warn on stderr that 8787 is taken
                                   dashboard_address=":0")
        try:
            yield cluster
        finally:
            cluster.close()


def _local_workers(workers: int | None, submissions: int) -> tuple[int, dict]:
    """How many workers our own cluster gets, and their environment."""
    n = max(1, min(workers or os.cpu_count() or 1, submissions))
    # Share the cores between the workers' kernels: n kernels each running torch/BLAS on
    # every core oversubscribe the machine (measured: tiny torch steps 10x slower).
    # A cap already in the environment wins (several graders on one machine: tests).
    env = dict(os.environ)
    env.setdefault(KERNEL_THREADS_ENV, str(max(1, (os.cpu_count() or 1) // n)))
    return n, env


def _run(tasks, specs, recorder: Recorder, summary: Summary, *, scheduler, local, progress):
    from distributed import Client, as_completed
    from tqdm import tqdm

    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler))
        else:
            n, env = local
            n = min(n, len(tasks))  # fewer when most were graded before
            client = stack.enter_context(Client(stack.enter_context(local_cluster(n, env))))
        if scheduler and any(t["limits"]["sandbox"] for t in tasks):
            problems = {w: p for w, p in client.run(_sandbox_problem).items() if p}
            if problems:
                raise GradingError("; ".join(f"worker {w}: {p}" for w, p in problems.items()))
        spec_futures = {name: client.scatter([spec], broadcast=True)[0]
                        for name, spec in specs.items()}
        futures = {}
        for task in tasks:
            fut = client.submit(grade_submission, task, spec_futures[task["assignment"]],
                                pure=False, key=f"grade-{task['assignment']}-{task['student']}-"
                                                f"{task['hash'][:12]}-{time.time_ns()}")
            futures[fut] = task
        bar = tqdm(total=len(tasks), unit="submission", desc="autograde", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True)
        try:
            # whatever has arrived is written before waiting again
            for batch in as_completed(futures).batches():
                done = []
                for fut in batch:
                    task = futures.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as err:  # the worker died on it (KilledWorker), ...
                        result = _failed_result(task, specs[task["assignment"]], err)
                    done.append((task, result))
                for (task, result), statuses in zip(
                        done, recorder.record_batch([result for _, result in done])):
                    _summarise(summary, task, result, statuses)
                bar.update(len(done))
        finally:
            bar.close()


def _sandbox_problem() -> str | None:
    """On a worker of another cluster: why it cannot build the sandbox, or None."""
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as err:
        return str(err)
    return None


def _summarise(summary: Summary, task: dict, result: SubmissionResult,
               statuses: dict[str, Status] | Exception) -> None:
    if isinstance(statuses, Exception):
        summary.problems.append(f"{task['student']} {task['assignment']}: graded, but the "
                                f"result could not be recorded ({type(statuses).__name__}: "
                                f"{statuses}); it is graded again on the next run")
        return
    summary.graded += 1
    for name, status in statuses.items():
        summary.statuses[status] += 1
        if status != Status.OK:
            detail = "; ".join(result.notebooks[name].problems[:3])
            summary.problems.append(f"{task['student']} {task['assignment']}/{name}: {status}"
                                    + (f" -- {detail}" if detail else ""))
    for fname in result.extra_files:
        summary.problems.append(f"{task['student']} {task['assignment']}: "
                                f"ignored unexpected notebook {fname}")
