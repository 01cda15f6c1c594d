#!/usr/bin/env bash
# Set up everything and run the bot (SQLite in ./data unless VORONKA_DATABASE_URL says otherwise).
set -euo pipefail
cd "$(dirname "$0")"
tools/bootstrap.sh
exec .venv/bin/voronka run "$@"
