"""The pages of the dashboard (one list, used by app/main.py and by page links)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
PAGE_SPECS = [
    # (file stem, title, url path)
    ("home", "Home", "home"),
    ("compare", "Compare LR / SR / HR", "compare"),
    ("sdg", "SDG indicators", "sdg"),
    ("models", "Models", "models"),
    ("data", "Upload data", "data"),
]


def page(stem: str) -> st.Page:
    """The ``st.Page`` of a page file stem (e.g. ``"compare"``)."""
    for name, title, url in PAGE_SPECS:
        if name == stem:
            # No page icon: Streamlit would make it the favicon and fetch that from fonts.gstatic.com.
            return st.Page(PAGES_DIR / f"{name}.py", title=title, url_path=url, default=name == "home")
    raise KeyError(f"no page {stem!r}; pages are {[s[0] for s in PAGE_SPECS]}")


def all_pages() -> list[st.Page]:
    """Every page, Home first (the default)."""
    return [page(spec[0]) for spec in PAGE_SPECS]
