#!/usr/bin/env bash
# Set up everything and run lint, formatting, types, the import contracts, the content check
# and every test.
# PostgreSQL tests use VORONKA_TEST_POSTGRES_URL; without it, a local server is started
# when PostgreSQL is installed, and otherwise those tests are skipped (never in CI).
set -euo pipefail
cd "$(dirname "$0")"
tools/bootstrap.sh dev

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import contracts"
.venv/bin/lint-imports --no-cache
echo "== content"
.venv/bin/voronka content check

if [ -z "${VORONKA_TEST_POSTGRES_URL:-}" ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  pg_dir=$(mktemp -d /tmp/voronka-pg.XXXXXX)
  eval "$(tools/postgres.sh start "$pg_dir" "${VORONKA_TEST_POSTGRES_PORT:-55433}")"
  trap 'tools/postgres.sh stop "$pg_dir"; rm -rf "$pg_dir"' EXIT
fi

echo "== pytest"
.venv/bin/python -m pytest "$@"
