# Voronka: the bot, its HTTP server (webhook, /healthz, /readyz, /metrics) and the
# PostgreSQL client for `voronka backup` / `voronka restore`.
# Build: docker build -t voronka:0.1.0 .   (docker-compose.yml builds it for you)
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump and pg_restore of the server's major version (docker-compose.yml runs PostgreSQL 15;
# Debian bookworm's client is 15).
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 voronka \
    && useradd --system --uid 10001 --gid voronka --home-dir /app --shell /usr/sbin/nologin voronka

WORKDIR /app
# The package first: its layer is rebuilt only when the code or the dependencies change.
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir . && rm -rf build ./*.egg-info
COPY knowledge_base ./knowledge_base
COPY scripts_library ./scripts_library
COPY templates ./templates

# The package is installed into site-packages, so the content folders are named here.
ENV VORONKA_DATA_DIR=/data \
    VORONKA_KNOWLEDGE_DIR=/app/knowledge_base \
    VORONKA_SCRIPTS_DIR=/app/scripts_library \
    VORONKA_CATALOG_FILE=/app/knowledge_base/catalog.yaml \
    VORONKA_OFFER_TEMPLATES_DIR=/app/templates/offers \
    VORONKA_HTTP_HOST=0.0.0.0 \
    VORONKA_HTTP_PORT=8080 \
    MPLCONFIGDIR=/data/.matplotlib

RUN mkdir -p /data /backups && chown voronka:voronka /data /backups
VOLUME ["/data"]
USER voronka
EXPOSE 8080

# /healthz answers while the process lives; python's urllib, so the image needs no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('VORONKA_HTTP_PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["voronka"]
CMD ["run"]
