# The desk service (Python 3.11): channels, router, outbox, console, tickets, reports.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md* ./
RUN mkdir -p aduan desk storage connectors tickets handoff reports lending \
 && pip install --no-cache-dir . && pip uninstall -y aduan

COPY . .
RUN pip install --no-cache-dir --no-deps . \
 && useradd --system --uid 10001 aduan && mkdir -p /app/var && chown aduan /app/var
USER aduan

ENV DESK_HOST=0.0.0.0 DESK_PORT=8000 LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
# Migrations are idempotent; run them, then serve.
CMD ["sh", "-c", "aduan migrate && exec aduan serve --workers ${DESK_WORKERS:-1}"]
