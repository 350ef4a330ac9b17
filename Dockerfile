# DeepLight dashboard image: slim Python 3.11, the pinned requirements, the package, the dashboard.
#   docker build -t deeplight .
#   docker run -p 8501:8501 deeplight            # then open http://localhost:8501
# Real data: mount a folder with the layout of shared/data and set DEEPLIGHT_DATA_DIR:
#   docker run -p 8501:8501 -v /path/to/data:/data:ro -e DEEPLIGHT_DATA_DIR=/data deeplight
# GPU: swap the base for a CUDA runtime image with Python 3.11 (e.g. an nvidia/cuda *-runtime tag plus
# python3.11), keep the rest, and run with `--gpus all`; the PyPI torch==2.13.0 wheel already carries
# CUDA and DeepLight picks the GPU automatically when torch.cuda.is_available().
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEEPLIGHT_HOME=/var/lib/deeplight \
    HOST=0.0.0.0 \
    PORT=8501

WORKDIR /opt/deeplight
COPY requirements.txt pyproject.toml README.md LICENSE ./
RUN python -m pip install --upgrade pip && python -m pip install -r requirements.txt
COPY deeplight ./deeplight
COPY app ./app
COPY pages ./pages
COPY configs ./configs
COPY data ./data
COPY .streamlit ./.streamlit
COPY docker/entrypoint.sh ./docker/entrypoint.sh
RUN python -m pip install --no-deps -e . && mkdir -p "$DEEPLIGHT_HOME"

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ.get('PORT', '8501'), timeout=4)"
CMD ["sh", "docker/entrypoint.sh"]
