import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
import yaml

from nbutils.widgets import use_build_environment

matplotlib.use("Agg")
use_build_environment()  # explorers draw static figures in the tests and the notebooks nbval runs
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """Build the book strictly (-W -n --keep-going) once per test run; the path of its HTML.

    The build renders the outputs stored in the notebooks instead of executing
    them again: nbval, in the same test run, re-executes every chapter and fails
    when a fresh output differs from the stored one, so the pages show exactly
    what a fresh run prints, and the chapters run once per test run instead of
    twice. ``make book`` still executes every notebook.

    The site lands in ``_build/html``, or under ``$BOOK_BUILD_OUTPUT/_build/html``
    when that is set (a private build that leaves the shared ``_build`` alone).
    """
    output = Path(os.environ.get("BOOK_BUILD_OUTPUT") or ROOT)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    extensions = config["sphinx"]["local_extensions"]
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path in extensions.items()}
    stored_outputs_config = tmp_path_factory.mktemp("book") / "_config.yml"
    stored_outputs_config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "-W", "-n", "--keep-going",
               "--config", str(stored_outputs_config)]
    if output != ROOT:
        command += ["--path-output", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed or warned:\n{log[-6000:]}"
    return output / "_build" / "html"


CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")  # the Makefile passes CHROMIUM=


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium (or $CHROMIUM) driven by Playwright, which downloads no browser of its own."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (it apt-get installs Debian's chromium).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run `make install`.")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def pytest_collection_modifyitems(config, items):
    """Tests marked ``live`` run only when the ``-m`` expression names them (``make test-live``)."""
    if "live" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="a live JupyterLab session: run it with make test-live")
    for item in items:
        if item.get_closest_marker("live"):
            item.add_marker(skip)
