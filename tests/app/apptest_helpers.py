"""Helpers shared by the AppTest tests (not a test module)."""

from __future__ import annotations

import json
import time
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
    """The map documents of the last run: the map frames' HTML (app/map_view.py) and any st.iframe."""
    frames = [json.loads(e.proto.json_args)["html"] for e in at.get("component_instance")
              if e.proto.component_name.endswith("deeplight_map")]
    return frames + [element.proto.srcdoc for element in at.get("iframe")]


def click_on_map(at: AppTest, key: str, **updates: str | None) -> AppTest:
    """What a click (``region=``) or a drawing (``aoi=``) on map ``key`` sends, then the rerun."""
    at.session_state[key] = {"updates": updates, "nonce": f"test-{time.monotonic_ns()}"}
    return at.run()


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning and error text of the last run, joined."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(e.value) for e in at.get(kind))
    return "\n".join(parts)
