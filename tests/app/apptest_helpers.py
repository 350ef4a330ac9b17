"""Helpers shared by the AppTest tests (not a test module)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN_SCRIPT = str(REPO_ROOT / "app" / "main.py")


def run_page(page: str | None = None, query: dict[str, str] | None = None, timeout: float = 120) -> AppTest:
    """Run the app (optionally switched to ``pages/<page>.py``) and return the finished AppTest."""
    at = AppTest.from_file(MAIN_SCRIPT, default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page is not None:
        at.switch_page(str(REPO_ROOT / "pages" / f"{page}.py"))
        at.run()
    return at


def iframe_html(at: AppTest) -> list[str]:
    """The HTML sources of the st.iframe elements of the last run."""
    return [element.proto.srcdoc for element in at.get("iframe")]


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning and error text of the last run, joined."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(e.value) for e in at.get(kind))
    return "\n".join(parts)
