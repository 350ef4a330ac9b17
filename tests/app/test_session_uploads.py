"""Uploads belong to the browser session that made them: bounded, evicted (LRU), never shown to others.

Also: a region named like an HTML payload reaches the map only as escaped text.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.services import SESSION_UPLOADS_KEY, SessionUploads, scene_nbytes
from app.uploads import UploadedFile, build_upload_scene
from tests.app.apptest_helpers import MAIN_SCRIPT, iframe_html, texts
from tests.app.test_uploads import _geotiff_bytes, _radiance

HOSTILE = '<img src=x onerror="window.__pwned=1;window.parent.__pwned=1">'


def _hostile_upload(tmp_path, seed: int = 0):
    regions = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": HOSTILE},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[5.02, 32.9], [5.1, 32.9], [5.1, 32.97], [5.02, 32.97], [5.02, 32.9]]],
                },
            }
        ],
    }
    data = _geotiff_bytes(tmp_path, _radiance() + seed)
    return build_upload_scene(
        UploadedFile("hostile.tif", data),
        role="hr",
        regions=UploadedFile("regions.geojson", json.dumps(regions).encode()),
    )


_SCENES: list = []
PENDING: list = []
"""The scene the session script below stores (AppTest runs scripts in this process)."""


@pytest.fixture()
def base_scene(tmp_path):
    if not _SCENES:
        _SCENES.append(_hostile_upload(tmp_path))
    return _SCENES[0]


def _scene(nbytes: int, key: str):
    from dataclasses import replace

    return replace(_SCENES[0], key=key, lr=np.zeros(nbytes // 4, np.float32).reshape(1, -1), hr=None)


def _upload_in_this_session() -> None:
    """What the Data page does after a successful upload (AppTest cannot send file bytes)."""
    from app import services
    from tests.app.test_session_uploads import PENDING

    services.uploaded_scenes()[PENDING[0].key] = PENDING[0]


def test_the_store_is_bounded_by_count_and_evicts_the_least_recently_used(base_scene):
    store = SessionUploads(max_count=2, max_bytes=10**9)
    store["upload:a"] = _scene(4000, "upload:a")
    store["upload:b"] = _scene(4000, "upload:b")
    assert store.get("upload:a") is not None  # a is now the most recently used
    store["upload:c"] = _scene(4000, "upload:c")
    assert store.keys() == ["upload:a", "upload:c"] and "upload:b" in store.evicted
    assert store.get("upload:b") is None


def test_the_store_is_bounded_by_bytes_but_keeps_the_newest(base_scene):
    one = scene_nbytes(_scene(400_000, "upload:x"))
    store = SessionUploads(max_count=10, max_bytes=int(2.5 * one))
    for key in ("upload:a", "upload:b", "upload:c"):
        store[key] = _scene(400_000, key)
    assert store.keys() == ["upload:b", "upload:c"] and store.nbytes <= store.max_bytes
    store["upload:big"] = _scene(4_000_000, "upload:big")  # alone over the budget: kept, the rest goes
    assert store.keys() == ["upload:big"] and len(store) == 1


def _session(query: dict[str, str] | None = None, uploads: SessionUploads | None = None) -> AppTest:
    at = AppTest.from_file(MAIN_SCRIPT, default_timeout=120)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if uploads is not None:
        at.session_state[SESSION_UPLOADS_KEY] = uploads
    at.run()
    return at


def _dataset_options(at: AppTest) -> list[str]:
    box = next(s for s in at.sidebar.selectbox if s.label == "Data set")
    return list(box.options)


def test_one_sessions_upload_is_invisible_to_another(app_env, tmp_path):
    scene = _hostile_upload(tmp_path)
    PENDING[:] = [scene]
    uploader = AppTest.from_function(_upload_in_this_session, default_timeout=60)
    uploader.run()
    assert not uploader.exception
    mine = uploader.session_state[SESSION_UPLOADS_KEY]
    assert isinstance(mine, SessionUploads) and mine.keys() == [scene.key]

    owner = _session({"dataset": scene.key}, uploads=mine)  # the same session, on the Home page
    assert not owner.exception
    assert any(option.startswith("Upload: hostile.tif") for option in _dataset_options(owner))
    assert owner.query_params["dataset"] == scene.key
    region_box = next(s for s in owner.sidebar.selectbox if s.label == "Region (type to search)")
    assert HOSTILE in region_box.options  # a widget option: shown as text
    maps = iframe_html(owner)
    assert maps and "<img" not in maps[0]
    labels = [json.loads(t) for t in re.findall(r'"label": ("(?:[^"\\]|\\.)*")', maps[0])]
    assert html.escape(HOSTILE, quote=True) in labels

    other = _session()  # another browser, same server process
    assert not other.exception
    assert not any(option.startswith("Upload:") for option in _dataset_options(other))
    assert SESSION_UPLOADS_KEY not in other.session_state or len(other.session_state[SESSION_UPLOADS_KEY]) == 0

    guessed = _session({"dataset": scene.key})  # knows the id (a shared link), not the file
    assert not guessed.exception
    assert not any(option.startswith("Upload:") for option in _dataset_options(guessed))
    assert guessed.query_params["dataset"] != scene.key
    assert HOSTILE not in texts(guessed)


def test_the_xsrf_secret_is_stable_for_a_browser_and_differs_between_browsers():
    from app.services import browser_owner, xsrf_token

    # two page loads of one browser (fresh masks, same token) and another browser, as Streamlit sent them
    first = "2|cc266589|a4629bde17184642ae4a1ceffb31db7f|1796161882"
    reload = "2|6e70cea4|063430f3b54eed6f0c1cb7c259677052|1796161882"
    other = "2|8dc62293|ff9740b16d645dcb7da754e029d4d30c|1796161886"
    assert xsrf_token(first) == xsrf_token(reload) == bytes.fromhex("6844fe57db3e23cb626c79663717bef6")
    owner = browser_owner({"_streamlit_xsrf": first})
    assert owner == browser_owner({"_streamlit_xsrf": reload}) != browser_owner({"_streamlit_xsrf": other})
    assert "6844fe57" not in owner  # the secret itself is not kept
    for bad in (None, "", "2|zz|yy|1", "3|a|b|c", "short"):
        assert xsrf_token(bad) is None
    assert browser_owner({}) is None


def test_the_shelf_gives_each_browser_its_own_bounded_store(base_scene):
    from app.services import UploadShelf

    shelf = UploadShelf(max_browsers=2, max_bytes=10**9)
    mine, theirs = shelf.store_for("browser-a"), shelf.store_for("browser-b")
    mine["upload:a"] = _scene(4000, "upload:a")
    assert shelf.store_for("browser-a") is mine and "upload:a" in mine  # a reload of browser a
    assert "upload:a" not in theirs and len(theirs) == 0
    shelf.store_for("browser-c")  # a third browser: the least recently active (b) is dropped
    assert len(shelf) == 2 and shelf.store_for("browser-a") is mine
    assert len(shelf.store_for("browser-b")) == 0  # b comes back to an empty store

    small = UploadShelf(max_browsers=10, max_bytes=int(1.5 * scene_nbytes(_scene(400_000, "x"))))
    first = small.store_for("a")
    first["upload:1"] = _scene(400_000, "upload:1")
    second = small.store_for("b")
    second["upload:2"] = _scene(400_000, "upload:2")  # over the shelf's bytes: a's store goes
    assert small.store_for("b") is second and len(small.store_for("a")) == 0
