"""What ``workbook autograde`` says of each graded notebook (stored as its text)."""

from enum import StrEnum


class Status(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"                    # a cell ran past its limit, or the wall time ran out
    KERNEL_DIED = "kernel-died"            # os._exit, a segfault, the OOM killer
    MISMATCH = "mismatch"                  # passed in the notebook, failed verification outside it
    INVALID = "invalid-notebook"           # not JSON / not a notebook
    MISSING = "missing"                    # no such notebook in the submission
    LATE = "late"                          # graded normally, handed in after the due date
    ERROR = "error"                        # nbgrader itself failed on the submission

    @property
    def ran(self) -> bool:
        """Whether nbgrader executed the notebook (its grades are its own)."""
        return self not in NOT_RUN

    @property
    def flagged(self) -> bool:
        """Whether the formgrader and the report should point an instructor at it."""
        return self not in (Status.OK, Status.LATE)


NOT_RUN = frozenset({Status.MISSING, Status.INVALID, Status.ERROR})
