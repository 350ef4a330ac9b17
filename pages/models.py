"""Models: the benchmark tables, ablations and the model card, read from the training outputs."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.layout import page_setup
from app.model_docs import benchmark_tables, checkpoint_metadata, model_card, one_training_time
from app.settings import get_settings

page_setup("Models and benchmarks")
settings = get_settings()
st.caption(
    f"Tables from `{settings.results_dir}`; checkpoints and model card from `{settings.checkpoint_dir}`."
)
tables = benchmark_tables(settings.results_dir)
main_tables = [t for t in tables if not t.is_ablation]
ablations = [t for t in tables if t.is_ablation]


def _readable(frame: pd.DataFrame):
    """A table without empty cells: columns with no value at all are left out, a missing value in
    the others shows as "-" (never "None" / "nan"), numbers with 4 significant digits.

    The grid draws a missing cell as "None" whatever a Styler says, so a column with gaps becomes
    text ("-" in the gaps); full numeric columns stay numbers (sortable), formatted by the Styler.
    """
    frame = frame.dropna(axis=1, how="all").copy()
    for column in frame.columns:
        if frame[column].isna().any():
            frame[column] = [_cell(v) for v in frame[column]]
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    return frame.style.format({c: _number for c in floats})


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return "-"
    if isinstance(value, float):
        return _number(value)
    return str(value)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"


def _show(table) -> None:
    st.markdown(f"**{table.title}** (`{table.path.name}`)")
    if table.frame is not None:
        st.dataframe(_readable(table.frame), hide_index=True)
    elif table.markdown is not None:
        st.markdown(table.markdown)


st.subheader("Benchmark")
if main_tables:
    for table in main_tables:
        _show(table)
else:
    st.info(
        "No benchmark table yet: run the quality benchmark (`benchmarks/bench_quality.py`) to write "
        "`benchmarks/results/quality*.md|csv`."
    )
st.subheader("Ablations")
if ablations:
    for table in ablations:
        _show(table)
else:
    st.info("No ablation table yet (`benchmarks/results/quality*ablation*.md|csv`).")
st.subheader("Checkpoints")
meta = checkpoint_metadata(settings.checkpoint_dir)
if meta.empty:
    st.info("No checkpoint in data/checkpoints/: only weight-free baselines can reconstruct.")
else:
    st.dataframe(_readable(meta), hide_index=True)
st.subheader("Model card")
card = model_card(settings.checkpoint_dir)
if card is None:
    st.info("No model card yet (data/checkpoints/README.md).")
else:
    st.markdown(one_training_time(card))  # the training time once, even if the card repeats it
