"""The project's packaging: the CLI, the Dockerfile's inputs, and its serve command outside Docker."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from deeplight.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def test_cli_lists_every_command_group(capsys):
    parser = build_parser()
    groups = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001 - argparse has no public accessor
    assert {"data", "models", "train", "evaluate", "predict", "cache", "sdg"} <= groups
    assert main([]) == 1  # no command: help and a non-zero status
    assert "COMMAND" in capsys.readouterr().out


def test_requirements_pin_torch_and_exclude_torchvision():
    lines = [ln.split("#")[0].strip() for ln in (REPO / "requirements.txt").read_text().splitlines()]
    pins = {re.split(r"[=<>\[]", ln)[0].lower(): ln for ln in lines if ln}
    assert pins["torch"] == "torch==2.13.0"
    for forbidden in ("torchvision", "torchgeo", "timm", "pyiqa", "basicsr", "segmentation-models-pytorch"):
        assert forbidden not in pins, f"{forbidden} needs torchvision"
    unpinned = [ln for ln in pins.values() if "==" not in ln]
    assert not unpinned, f"unpinned requirements: {unpinned}"


# Requirements used without an import statement of their own name: (import name, how it is used).
NOT_IMPORTED_BY_NAME = {
    "netcdf4": "xarray's engine for the monthly NetCDF cubes",
    "tensorboard": "torch.utils.tensorboard.SummaryWriter in the trainer",
    "pytest-timeout": "a pytest plugin (timeout in pyproject.toml)",
    "opencv-python-headless": "pypiqe's dependency for the PIQE cross-check (cv2)",
}
IMPORT_NAMES = {"scikit-image": "skimage", "pyyaml": "yaml", "pillow": "PIL"}


def test_every_requirement_is_used_and_pinned_once():
    lines = [ln.split("#")[0].strip() for ln in (REPO / "requirements.txt").read_text().splitlines()]
    names = [re.split(r"[=<>\[]", ln)[0].lower() for ln in lines if ln]
    assert len(names) == len(set(names)), f"a requirement is pinned twice: {sorted(names)}"
    sources = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("deeplight", "app", "pages", "tests", "benchmarks")
        for path in (REPO / folder).rglob("*.py")
    )
    unused = []
    for name in names:
        if name in NOT_IMPORTED_BY_NAME:
            continue
        module = IMPORT_NAMES.get(name, name.replace("-", "_"))
        if not re.search(rf"^\s*(?:import|from) {re.escape(module)}\b", sources, re.M | re.I):
            unused.append(name)
    assert not unused, f"required but never imported (remove them or say why in NOT_IMPORTED_BY_NAME): {unused}"


def _dockerfile_copies() -> list[str]:
    sources = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            parts = shlex.split(line)[1:]
            sources += [p for p in parts[:-1] if not p.startswith("--")]
    return sources


def test_dockerfile_copies_files_that_exist():
    sources = _dockerfile_copies()
    assert "requirements.txt" in sources and "docker/entrypoint.sh" in sources
    missing = [s for s in sources if not (REPO / s).exists()]
    assert not missing, f"Dockerfile copies paths that do not exist: {missing}"
    text = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "HEALTHCHECK" in text and "/_stcore/health" in text
    assert 'CMD ["sh", "docker/entrypoint.sh"]' in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", "data/runtime", "runs"} <= set(ignored)  # generated files stay out of the image


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_docker_entrypoint_serves_the_dashboard_outside_docker(tmp_path):
    """The image's command, run from the repository root, prepares the demo and answers health checks."""
    port = _free_port()
    home = os.environ.get("DEEPLIGHT_HOME") or str(tmp_path / "home")
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "PYTHON": sys.executable, "DEEPLIGHT_HOME": home}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(["sh", "docker/entrypoint.sh"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        body = b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                    body = resp.read()
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, f"server exited: {(tmp_path / 'serve.log').read_text()[-2000:]}"
        assert body.strip() == b"ok"
        assert (Path(home) / "demo" / "manifest.json").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
