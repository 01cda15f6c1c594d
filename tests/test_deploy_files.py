"""The deployment files hold to the rules that matter, checked without Docker (this machine
has none): a pinned slim base, a non-root user, a health check that works, nothing secret or
bulky in the build context, and only Caddy's 80/443 reachable from outside."""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PINNED = re.compile(r"^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?(@sha256:[0-9a-f]{64})?$")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    result = []
    for entry in joined:
        word, _, rest = entry.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(ROOT / "Dockerfile")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def arguments(dockerfile: list[tuple[str, str]], name: str) -> list[str]:
    return [rest for word, rest in dockerfile if word == name]


def environment(dockerfile: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in arguments(dockerfile, "ENV"):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            values[key] = value
    return values


def test_the_base_is_a_pinned_slim_python_3_11(dockerfile: list[tuple[str, str]]) -> None:
    (base,) = arguments(dockerfile, "FROM")
    assert PINNED.match(base), f"{base}: pin a version, never latest or no tag"
    assert base.startswith("python:3.11.") and "-slim" in base


def test_the_bot_runs_as_a_user_that_is_not_root(dockerfile: list[tuple[str, str]]) -> None:
    words = [word for word, _ in dockerfile]
    users = arguments(dockerfile, "USER")
    assert users and users[-1] not in ("root", "0", "0:0")
    last_user = len(words) - 1 - words[::-1].index("USER")
    assert "RUN" not in words[last_user:], "nothing runs as root after USER"
    assert words.index("CMD") > last_user and words.index("ENTRYPOINT") > last_user
    created = " ".join(arguments(dockerfile, "RUN"))
    assert f"useradd --system --uid 10001 --gid {users[-1]}" in created


def test_the_package_is_installed_from_the_source_tree_with_its_content(
    dockerfile: list[tuple[str, str]],
) -> None:
    assert any(re.search(r"pip install\b.* \.( |$)", run) for run in arguments(dockerfile, "RUN"))
    copied = {line.split()[-1].removeprefix("./"): line.split()[0] for line in
              arguments(dockerfile, "COPY")}  # fmt: skip
    env = environment(dockerfile)
    # The content settings name what was copied (the package sits in site-packages).
    for setting in ("KNOWLEDGE_DIR", "SCRIPTS_DIR", "OFFER_TEMPLATES_DIR", "CATALOG_FILE"):
        path = Path(env[f"VORONKA_{setting}"])
        assert path.is_relative_to("/app"), setting
        inside = path.relative_to("/app")
        assert inside.parts[0] in copied, f"{setting}: {path} is not copied into the image"
        assert (ROOT / inside).exists(), f"{setting}: {inside} is not in the source tree"
    for source in copied.values():
        assert (ROOT / source).exists(), source
    assert env["VORONKA_DATA_DIR"] == "/data" and '["/data"]' in arguments(dockerfile, "VOLUME")


def test_the_build_context_leaves_out_secrets_and_bulk() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "data", ".git", ".env"} <= ignored
    for needed in ("bot", "pyproject.toml", "README.md", "knowledge_base", "templates"):
        assert needed not in ignored


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_health_check_calls_healthz_on_the_http_port_without_curl(
    dockerfile: list[tuple[str, str]], health_server: http.server.ThreadingHTTPServer
) -> None:
    (check,) = arguments(dockerfile, "HEALTHCHECK")
    options, _, command = check.partition(" CMD ")
    assert "--start-period=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python" and "curl" not in command and "wget" not in command
    port = str(health_server.server_address[1])
    env = {**os.environ, "VORONKA_HTTP_PORT": port}
    run = [sys.executable, *argv[1:]]

    assert subprocess.run(run, env=env, capture_output=True, check=False).returncode == 0
    _Health.status = 503
    try:
        assert subprocess.run(run, env=env, capture_output=True, check=False).returncode != 0
    finally:
        _Health.status = 200
    assert environment(dockerfile)["VORONKA_HTTP_PORT"] in arguments(dockerfile, "EXPOSE")


def test_every_image_in_compose_is_pinned(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "bot", "caddy"}
    for name, service in services.items():
        image = service.get("image", "")
        assert PINNED.match(image) and not image.endswith(":latest"), f"{name}: {image!r}"
    assert services["db"]["image"].startswith("postgres:15")
    assert services["bot"]["build"] == "."


def test_only_caddy_is_reachable_from_outside(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "ports" not in services["bot"] and "ports" not in services["db"]
    published = {str(port).split(":")[-1] for port in services["caddy"]["ports"]}
    assert published == {"80", "443"}
    assert services["bot"]["expose"] == ["8080"]


def test_the_bot_runs_in_webhook_mode_on_postgres(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    env = bot["environment"]
    assert env["VORONKA_DATABASE_URL"].startswith("postgresql+asyncpg://voronka:")
    assert "@db:5432/voronka" in env["VORONKA_DATABASE_URL"]
    assert env["VORONKA_WEBHOOK_URL"].startswith("${VORONKA_WEBHOOK_URL:?")
    assert env["VORONKA_WEBHOOK_SECRET"].startswith("${VORONKA_WEBHOOK_SECRET:?")
    assert env["VORONKA_HTTP_HOST"] == "0.0.0.0" and env["VORONKA_HTTP_PORT"] == "8080"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" in compose["services"]["db"]


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    used = set()
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
            else:
                assert (ROOT / source).exists() or source == "./backups", source
    assert used == set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["db"]["volumes"]
    assert "caddy_data:/data" in compose["services"]["caddy"]["volumes"]


def test_caddy_terminates_tls_for_the_domain_and_passes_only_the_webhook(
    compose: dict[str, Any],
) -> None:
    caddy = compose["services"]["caddy"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert caddy["environment"]["VORONKA_DOMAIN"].startswith("${VORONKA_DOMAIN:?")
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in caddyfile.splitlines() if line.strip()]
    sites = [line for line in lines if not line.startswith("#") and line.endswith("{")]
    assert sites[0] == "{$VORONKA_DOMAIN} {"  # a domain name: Caddy gets its certificate
    assert "handle /telegram/* {" in lines and "reverse_proxy bot:8080" in lines
    assert lines.count("reverse_proxy bot:8080") == 1  # /metrics, /readyz stay inside
    assert "respond 404" in lines
    # The README's example webhook URL goes through that path.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"^\s*VORONKA_WEBHOOK_URL=https://[^/\s]+(/\S+)$", readme, re.M)
    assert example is not None and example.group(1).startswith("/telegram/")


def test_the_systemd_unit_for_sqlite_installs_is_kept() -> None:
    unit = (ROOT / "deploy" / "voronka.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/voronka/.venv/bin/voronka run" in unit
    assert re.search(r"^User=(?!root$)\w+$", unit, re.M)
    timer = (ROOT / "deploy" / "voronka-backup.service").read_text(encoding="utf-8")
    assert "voronka backup --out" in timer
