#!/bin/sh
# Prepare the built-in demo (idempotent) and serve the dashboard on $HOST:$PORT.
# Used by the Dockerfile; works the same outside Docker from the repository root.
set -e
HOST="${HOST:-0.0.0.0}"
PORT="${PORT:-8501}"
DEEPLIGHT_HOME="${DEEPLIGHT_HOME:-$(pwd)/data/runtime}"
export DEEPLIGHT_HOME
PYTHON="${PYTHON:-python}"
"$PYTHON" -m deeplight.cli data demo --out "$DEEPLIGHT_HOME/demo"
exec "$PYTHON" -m streamlit run app/main.py --server.address "$HOST" --server.port "$PORT" \
  --server.headless true --browser.gatherUsageStats false
