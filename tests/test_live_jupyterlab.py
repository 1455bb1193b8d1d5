"""A reader's session, live: JupyterLab in Debian's Chromium, every chapter of _toc.yml run and played with.

For each chapter the test opens a copy of the notebook in one JupyterLab server
(127.0.0.1, a random token, no request leaves the machine), runs all cells and
waits for the kernel, and then checks what a reader would see:

- no cell shows an error;
- every explorer shows its controls, and moving one of them redraws the figure
  under it (the image changes) without an error;
- one self-checking exercise answers: its model solution, typed into the stub
  cell, gets "✓", and a typical mistake typed in gets that mistake's message.

The answers are not stored in the notebooks: the correct one is the exercise's
model solution (``nbutils.exercises``) and the wrong one is the first of its
declared mistakes that the checker names. Screenshots of the first explorer
before and after its control moves go to ``artifacts/screenshots/live/``.
Run with ``make test-live``; it is not part of ``make test``.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nbutils.notebook import toc_pages

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots" / "live"
CHAPTERS = [page for page in toc_pages() if page.startswith("chapters/")]
RUN_TIMEOUT = 600  # seconds for one chapter's cells (budget 60 s, on a busy 2-core machine)
STUB = re.compile(r"^def (?P<name>\w+)\([^)]*\):\s*\.\.\.  # your code here", re.MULTILINE)
CHECK = re.compile(r"^(?P<exercise>ex_\w+)\.check\((?P<name>\w+)\)\s*$", re.MULTILINE)
IMPORT = re.compile(r"from (?P<module>nbutils\.exercises\.\w+) import")

# JavaScript run in the page; `window.jupyterapp` is exposed by --LabApp.expose_app_in_browser.
_NOTEBOOK = "window.jupyterapp.shell.currentWidget"
_IDLE_JS = f"""() => {{
  const panel = {_NOTEBOOK};
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = panel.content.widgets;
  return cells.every(c => c.model.type !== 'code' || c.model.sharedModel.source.trim() === ''
                     || (c.model.executionCount !== null && c.promptNode.textContent.indexOf('*') < 0));
}}"""
_ERRORS_JS = f"""() => {{
  const found = [];
  {_NOTEBOOK}.content.widgets.forEach((cell, index) => {{
    if (cell.model.type !== 'code') return;
    const outputs = cell.model.outputs;
    for (let j = 0; j < outputs.length; j++) {{
      const output = outputs.get(j).toJSON();
      if (output.output_type === 'error') found.push(`cell ${{index}}: ${{output.ename}}: ${{output.evalue}}`);
    }}
  }});
  return found;
}}"""
_CELL_TEXT_JS = f"""(index) => {{
  const outputs = {_NOTEBOOK}.content.widgets[index].model.outputs;
  const parts = [];
  for (let j = 0; j < outputs.length; j++) {{
    const o = outputs.get(j).toJSON();
    if (o.text) parts.push(Array.isArray(o.text) ? o.text.join('') : o.text);
    if (o.data && o.data['text/plain']) {{
      const t = o.data['text/plain']; parts.push(Array.isArray(t) ? t.join('') : t);
    }}
    if (o.output_type === 'error') parts.push(o.ename + ': ' + o.evalue);
  }}
  return parts.join('\\n');
}}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _normalised(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 over a copy of the chapters; yields its base URL with the token."""
    root = tmp_path_factory.mktemp("lab")
    for page in CHAPTERS:
        shutil.copy(ROOT / f"{page}.ipynb", root / f"{Path(page).name}.ipynb")
    news = root / ".settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))  # no pop-up, no request
    tracker = root / ".settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))  # every cell in the page, as the test reads them
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "NBUTILS_STATIC"}  # a reader's kernel: live explorers
    env.update(JUPYTER_CONFIG_DIR=str(root / ".config"), JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(root / ".settings"), JUPYTERLAB_WORKSPACES_DIR=str(root / ".ws"))
    command = [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--allow-root", "--LabApp.extension_manager=readonly",
               "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(root / "server.log", "w")  # closed once the server has stopped
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited:\n{(root / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("JupyterLab did not start within 120 s")
    yield f"http://127.0.0.1:{port}", token
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def _only_local(base: str, blocked: list[str]):
    def route(route) -> None:
        if route.request.url.startswith(base) or route.request.url.startswith(base.replace("http", "ws")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()
    return route


def _open(browser, lab, name: str):
    base, token = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []
    context.route("**/*", _only_local(base, blocked))
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/{name}.ipynb?token={token}", wait_until="domcontentloaded")
    try:
        page.wait_for_function(f"() => window.jupyterapp && {_NOTEBOOK} && {_NOTEBOOK}.content "
                               f"&& {_NOTEBOOK}.context && {_NOTEBOOK}.context.path.endsWith('{name}.ipynb')",
                               timeout=120_000)
        page.wait_for_function(f"() => {_NOTEBOOK}.sessionContext.isReady", timeout=120_000)
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-did-not-open.png"))
        raise AssertionError(f"{name} did not open with a ready kernel in JupyterLab "
                             f"(screenshot in {SCREENSHOTS}); blocked requests: {blocked[:5]}") from None
    return context, page, blocked


def _command(page, command: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute('{command}')")


def _wait_idle(page, timeout: float) -> None:
    time.sleep(1.0)  # let the kernel report 'busy' first
    page.wait_for_function(_IDLE_JS, timeout=timeout * 1000, polling=500)


def _code_sources(page) -> list[tuple[int, str]]:
    return page.evaluate(f"""() => {_NOTEBOOK}.content.widgets.map((c, i) => [i, c.model.type,
                             c.model.sharedModel.source]).filter(c => c[1] === 'code').map(c => [c[0], c[2]])""")


def _exercise_cell(sources: list[tuple[int, str]]):
    """(cell index, exercise object, stub name) of the chapter's first self-checking exercise."""
    modules = {m["module"] for _, source in sources for m in IMPORT.finditer(source)}
    for index, source in sources:
        stub, check = STUB.search(source), CHECK.search(source)
        if stub and check and stub["name"] == check["name"]:
            for module in sorted(modules):
                exercise = getattr(importlib.import_module(module), check["exercise"], None)
                if exercise is not None:
                    return index, exercise, check["exercise"], stub["name"]
    return None


def _answer_source(exercise, exercise_name: str, stub_name: str) -> str:
    """The model solution as a reader would type it, under the stub's name, then the check."""
    source = textwrap.dedent(inspect.getsource(exercise.model_solution))
    source = re.sub(r"^def \w+\(", f"def {stub_name}(", source, count=1, flags=re.MULTILINE)
    return f"{source.rstrip()}\n\n\n{exercise_name}.check({stub_name})"


def _named_mistake(exercise) -> int | None:
    """Index of the first declared mistake that the checker names with its own message."""
    for index, mistake in enumerate(exercise.mistakes):
        result = exercise.check(lambda *args, _m=mistake, **kwargs: _m.answer(*args, **kwargs))
        if not result.passed and _normalised(mistake.message) in _normalised(result.message):
            return index
    return None


def _typical_mistake(exercise, exercise_name: str, stub_name: str) -> tuple[str, str]:
    """A wrong answer to type and the words the checker must answer it with.

    The first declared mistake that the checker names, if one can be typed as
    is; otherwise (its answer may use what the exercise forbids, such as
    autograd) the model solution with the forgotten ``return``.
    """
    index = _named_mistake(exercise)
    if index is not None:
        answer = f"    return {exercise_name}.mistakes[{index}].answer(*args, **kwargs)"
        message = exercise.mistakes[index].message
    else:
        answer = f"    {exercise_name}.model_solution(*args, **kwargs)  # no return"
        message = "Did you forget `return`?"
    text = f"def {stub_name}(*args, **kwargs):\n{answer}\n\n\n{exercise_name}.check({stub_name})"
    return text, _normalised(message)


def _type_and_run(page, index: int, text: str) -> str:
    """Replace cell ``index``'s text by typing ``text``, run it, and return its output text."""
    page.evaluate(f"""(i) => {{
        const nb = {_NOTEBOOK}.content;
        nb.activeCellIndex = i;
        nb.scrollToItem(i);
        nb.mode = 'edit';
        nb.activeCell.editor.focus();
    }}""", index)
    page.wait_for_function(f"() => {_NOTEBOOK}.content.activeCell.editor.hasFocus()", timeout=30_000)
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)
    typed = page.evaluate(f"(i) => {_NOTEBOOK}.content.widgets[i].model.sharedModel.source", index)
    assert typed.strip() == text.strip(), f"the cell holds other text than was typed:\n{typed}"
    _command(page, "notebook:run-cell")
    _wait_idle(page, 60)
    return page.evaluate(_CELL_TEXT_JS, index)


def _explorer_images(page) -> list:
    """The image under each explorer's controls (the figure inside its ipywidgets Output)."""
    return page.locator(".jp-OutputArea .widget-vbox:has(.widget-output) .widget-output img").all()


def _move_control(page, explorer) -> str:
    """Move the first control of an explorer: a slider by one step, a dropdown to its next option,
    a text box to another word."""
    box = explorer.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
    handle = box.locator(".noUi-handle")
    if handle.count():
        handle.first.focus()
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        return "slider"
    select = box.locator("select")
    if select.count():
        options = select.first.locator("option").all_text_contents()
        current = select.first.input_value()
        others = [o for o in options if o != current]
        select.first.select_option(label=others[0])
        return "dropdown"
    text = box.locator(".widget-text input")
    if text.count():
        # A text box that is not continuous sends its value on Enter: type a word every
        # chapter's vocabulary holds, one the default value is not.
        field = text.first
        field.focus()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text("paris" if field.input_value().strip() != "paris" else "london")
        page.keyboard.press("Enter")
        return "text box"
    raise AssertionError("an explorer with neither a slider, a dropdown nor a text box")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda page: Path(page).stem)
def test_a_reader_runs_the_chapter(browser, lab, chapter):
    name = Path(chapter).name
    context, page, blocked = _open(browser, lab, name)
    try:
        _command(page, "notebook:run-all-cells")
        _wait_idle(page, RUN_TIMEOUT)
        errors = page.evaluate(_ERRORS_JS)
        assert not errors, f"{name}: errors after running all cells: {errors}"

        sources = _code_sources(page)
        explorers = [i for i, source in sources if re.search(r"^explore\(", source, re.MULTILINE)]
        images = _explorer_images(page)
        assert len(images) >= len(explorers) >= 1, (
            f"{name}: {len(explorers)} explorer cells but {len(images)} live figures (sliders without a figure?)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for number, image in enumerate(images):
            image.scroll_into_view_if_needed()
            before = image.get_attribute("src")
            if number == 0:
                image.screenshot(path=str(SCREENSHOTS / f"{Path(chapter).stem}-before.png"))
            kind = _move_control(page, image)
            try:
                page.wait_for_function(
                    "([old, n]) => { const imgs = document.querySelectorAll("
                    "'.jp-OutputArea .widget-vbox:has(.widget-output) .widget-output img');"
                    " return imgs.length > n && imgs[n].getAttribute('src') !== old; }",
                    arg=[before, number], timeout=60_000, polling=250)
            except Exception:
                pytest.fail(f"{name}: moving explorer {number + 1}'s {kind} did not redraw its figure within 60 s")
            _wait_idle(page, 60)
            if number == 0:
                _explorer_images(page)[0].screenshot(path=str(SCREENSHOTS / f"{Path(chapter).stem}-after.png"))
            errors = page.evaluate(_ERRORS_JS)
            assert not errors, f"{name}: explorer {number + 1} ({kind}) raised: {errors}"

        found = _exercise_cell(sources)
        assert found is not None, f"{name}: no self-checking exercise stub found"
        index, exercise, exercise_name, stub_name = found
        right = _type_and_run(page, index, _answer_source(exercise, exercise_name, stub_name))
        assert "✓" in right, f"{name}: the model solution typed into {stub_name}'s cell got:\n{right}"
        wrong, expected = _typical_mistake(exercise, exercise_name, stub_name)
        told = _type_and_run(page, index, wrong)
        assert "✗" in told and expected in _normalised(told), (
            f"{name}: a typical mistake typed into {stub_name}'s cell got:\n{told}\nexpected: {expected}")
        assert not blocked, f"{name}: requests left 127.0.0.1: {blocked[:5]}"
    finally:
        page.evaluate(f"() => {_NOTEBOOK}.sessionContext.shutdown()")
        context.close()
