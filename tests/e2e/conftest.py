"""Real-browser fixtures: the dashboard served on 127.0.0.1 (free port) and Debian's Chromium via Playwright.

Browser tests skip when /usr/bin/chromium is absent, except when DEEPLIGHT_REQUIRE_BROWSER=1 (CI),
where they fail instead. The served app uses a tiny demo scene made by code and, when the shared
sample data is present, DEEPLIGHT_DATA_DIR pointing at it (Shanghai real mode).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, require_or_skip

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("DEEPLIGHT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-output" / "e2e"
SERVER_START_TIMEOUT_S = 120


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(base_url: str, process: subprocess.Popen, timeout_s: float) -> None:
    """Poll ``/_stcore/health`` until it answers "ok" (raises when the server dies or never answers)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer on {base_url} within {timeout_s} s")


def start_app(env_overrides: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start ``python -m streamlit run app/main.py`` on a free port; returns (process, base URL)."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_overrides}
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO_ROOT / "app" / "main.py"),
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def stop_app(process: subprocess.Popen) -> None:
    """Terminate the server started by :func:`start_app` (this process only)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    require_or_skip(
        CHROMIUM.exists(),
        f"Chromium not found at {CHROMIUM} (apt-get install chromium)",
        env_var="DEEPLIGHT_REQUIRE_BROWSER",
    )
    return CHROMIUM


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory) -> Path:
    """DEEPLIGHT_HOME with a small demo (LR 24x24) made by the project's demo generator."""
    from deeplight.data.demo import make_demo

    home = tmp_path_factory.mktemp("e2e_home")
    make_demo(home / "demo", lr_size=24, force=True)
    return home


@pytest.fixture(scope="session")
def app_url(chromium_path, e2e_home, tmp_path_factory) -> Iterator[str]:
    """Base URL of the dashboard served for the whole e2e session."""
    env = {"DEEPLIGHT_HOME": str(e2e_home)}
    if (SHARED_DATA / "README.md").exists():
        env["DEEPLIGHT_DATA_DIR"] = str(SHARED_DATA)
    process, url = start_app(env, tmp_path_factory.mktemp("e2e_logs") / "streamlit.log")
    try:
        wait_healthy(url, process, SERVER_START_TIMEOUT_S)
        yield url
    finally:
        stop_app(process)


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, request):
    """A fresh page (own session); a screenshot named after the test is saved at the end."""
    context = browser.new_context(viewport={"width": 1500, "height": 1300}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    yield tab
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        tab.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()
