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


def run_all_cells(page: Page) -> list[tuple[int, float]]:
    """Run > Run All Cells, and again from the next cell after each error.

    A cell that raises makes the kernel drop the cells queued after it (as for a student,
    Run All stops at the first exercise left undone), so whenever a run stops with cells
    not run, select the first of them and *Run Selected Cell and All Below* (by its key,
    see labdriver.USER_SETTINGS). Returns (first code cell, seconds) of each run.
    """
    runs: list[tuple[int, float]] = []
    target = 0
    while True:
        t0 = time.perf_counter()
        if not runs:
            menu_command(page, "Run", "runmenu:run-all")
        else:
            cell = page.locator(f"{NOTEBOOK} .jp-CodeCell").nth(target)
            cell.locator(".jp-InputPrompt").click()
            expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
            page.keyboard.press(RUN_ALL_BELOW_KEY)
            try:  # the key is quicker than the menu; if it went astray, use the menu
                page.wait_for_function(f"() => ({_PROMPTS_JS})()[{target}] !== '[ ]:'",
                                       timeout=5_000)
            except PlaywrightTimeout:
                menu_command(page, "Run", "notebook:run-all-below")
        # the run has started once the first cell it runs is no longer '[ ]', and ended
        # when no cell is running or queued
        try:
            page.wait_for_function(
                f"() => {{ const p = ({_PROMPTS_JS})(); return p.length > {target} && "
                f"p[{target}] !== '[ ]:' && !p.some(s => s === '[*]:'); }}",
                timeout=RUN_TIMEOUT_MS)
        except PlaywrightTimeout:
            raise AssertionError(f"run {len(runs) + 1} (from code cell {target}) did not end "
                                 f"in {RUN_TIMEOUT_MS / 1000:.0f} s; prompts: {prompts(page)}")
        runs.append((target, time.perf_counter() - t0))
        left = [i for i, p in enumerate(prompts(page)) if not executed(p)]
        if not left:
            return runs
        if left[0] <= target and len(runs) > 1:
            raise AssertionError(f"Run stopped without running code cell {left[0]}: "
                                 f"prompts {prompts(page)}")
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
