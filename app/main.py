"""Entry point of the DeepLight dashboard: ``python -m streamlit run app/main.py``.

Navigation over the top-level ``pages/`` scripts; each page draws the shared sidebar from
``app.layout`` and stays thin.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/ (not the repo) on sys.path
    sys.path.insert(0, str(ROOT))

from deeplight.runtime import prepare_process

prepare_process()  # passive OpenMP waits and malloc thresholds, before anything imports torch

import streamlit as st

from deeplight.infer.devices import configure_runtime

configure_runtime(once=True)  # + torch's thread count, once per server process
st.set_page_config(page_title="DeepLight", layout="wide")

from app.navigation import all_pages

st.navigation(all_pages()).run()
