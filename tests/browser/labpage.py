"""What a user does in JupyterLab, through playwright: menus, Run All, Validate.

Selectors measured on this machine (shared/BROWSER-TESTING.md): the Run menu's
``runmenu:run-all``, prompts ``.jp-CodeCell .jp-InputPrompt``, nbgrader's
``.validate-button`` and its ``#validation-message``, the Nbgrader menu's
``nbgrader:open-formgrader`` and its ``#formgrader iframe``.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from labdriver import RUN_ALL_BELOW_KEY

# The kernel is ready when the status bar says so; the toolbar's execution indicator turns
# idle ~1.3 s before the kernel is attached, and Run All pressed then does nothing.
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
RUN_TIMEOUT_MS = 120_000
START_WAIT_MS = 5_000      # a run shows '[*]' on its first cell well within this
START_ATTEMPTS = 4
SETTLE_S = 1.0             # extra wait before each further attempt

_PROMPTS_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim())"""


def wait_for_kernel_idle(page: Page) -> None:
    expect(page.locator("#jp-main-statusbar").get_by_text(KERNEL_IDLE)).to_be_visible()


def menu_command(page: Page, menu: str, command: str) -> None:
    """Open ``menu`` in the menu bar and click its item for ``command``."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(menu)}$")).click()
    item = page.locator(f'.lm-Menu-item[data-command="{command}"]')
    expect(item).to_be_visible()
    item.click()


def prompts(page: Page) -> list[str]:
    """The input prompt of every code cell of the visible notebook: '[3]:', '[*]:', '[ ]:'."""
    return page.evaluate(_PROMPTS_JS)


def executed(prompt: str) -> bool:
    return re.fullmatch(r"\[\d+\]:?", prompt) is not None


def _start_run_below(page: Page, target: int, attempt: int) -> None:
    """Select code cell ``target`` and *Run Selected Cell and All Below*: by its key (see
    labdriver.USER_SETTINGS), or on every other attempt by the Run menu."""
    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(target)
    cell.locator(".jp-InputPrompt").click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    if attempt % 2 == 0:
        page.keyboard.press(RUN_ALL_BELOW_KEY)
    else:
        menu_command(page, "Run", "notebook:run-all-below")


def run_all_cells(page: Page) -> list[tuple[int, float, int]]:
    """Run > Run All Cells, and again from the next cell after each error.

    A cell that raises makes the kernel drop the cells queued after it (as for a student,
    Run All stops at the first exercise left undone), so whenever a run stops with cells
    not run, select the first of them and *Run Selected Cell and All Below*.

    Measured under load: JupyterLab clears the '[*]' of the dropped cells before the
    kernel has finished dropping them, and a run started in that moment is dropped too
    (its first cell goes '[*]' then back to '[ ]'). Such a run is started again, up to
    START_ATTEMPTS times. Returns (first code cell, seconds, attempts) of each run.
    """
    runs: list[tuple[int, float, int]] = []
    target = 0
    started = f"() => ({_PROMPTS_JS})()[{{target}}] !== '[ ]:'"
    while True:
        t0 = time.perf_counter()
        for attempt in range(START_ATTEMPTS):
            if not runs and attempt == 0:
                menu_command(page, "Run", "runmenu:run-all")
            else:
                time.sleep(SETTLE_S * attempt)
                _start_run_below(page, target, attempt)
            try:
                page.wait_for_function(started.format(target=target), timeout=START_WAIT_MS)
            except PlaywrightTimeout:
                if "[*]:" not in prompts(page):
                    continue  # the request went nowhere: again
            # the run ends when no cell is running or queued
            try:
                page.wait_for_function(f"() => !({_PROMPTS_JS})().some(s => s === '[*]:')",
                                       timeout=RUN_TIMEOUT_MS)
            except PlaywrightTimeout:
                raise AssertionError(f"run {len(runs) + 1} (from code cell {target}) did not "
                                     f"end in {RUN_TIMEOUT_MS / 1000:.0f} s; prompts: "
                                     f"{prompts(page)}")
            if executed(prompts(page)[target]):
                break  # else it was dropped: again
        else:
            raise AssertionError(f"a run from code cell {target} did not run it in "
                                 f"{START_ATTEMPTS} attempts; prompts: {prompts(page)}")
        runs.append((target, time.perf_counter() - t0, attempt + 1))
        left = [i for i, p in enumerate(prompts(page)) if not executed(p)]
        if not left:
            return runs
        target = left[0]


_CODE_CELLS_JS = """(n) => document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea').length === n"""


def normalize(source: str) -> str:
    return " ".join(source.split())


def wait_for_code_cells(page: Page, count: int) -> None:
    """Wait until the visible notebook shows ``count`` code cells (the editors render
    only the lines in view, so their text cannot be compared with the file's)."""
    page.wait_for_function(_CODE_CELLS_JS, arg=count)


def validate(page: Page):
    """Press nbgrader's Validate; return (the dialog's message element, its outcome).

    The outcome is the message's class: ``validation-success``, ``validation-failed``,
    ``validation-changed``, ... (set once, when the dialog opens).
    """
    page.locator(f"{NOTEBOOK} .jp-NotebookPanel-toolbar .validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.get_by_text("Validation Results")).to_be_visible()
    message = dialog.locator("#validation-message")
    expect(message).to_be_visible()
    outcome = next((c for c in (message.get_attribute("class") or "").split()
                    if c.startswith("validation-")), "none")
    return message, outcome


def failed_cells(message) -> list[tuple[str, str]]:
    """(source, error) of each cell a failed validation lists."""
    texts = message.locator("pre").all_inner_texts()
    return list(zip(texts[0::2], texts[1::2]))


def close_dialog(page: Page) -> None:
    page.locator(".jp-Dialog .jp-Dialog-button").last.click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)
