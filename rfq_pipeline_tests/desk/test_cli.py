"""``rfq-pipeline desk add-user`` and ``desk serve`` through the installed entry point, on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from flask import Flask

from rfq_pipeline_tests.desk.conftest import sign_in

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(url: str, data_dir: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RFQ_", "DAGSTER_", "AWS_")) and k != "DATABASE_URL"
    }
    env.update(DATABASE_URL=url, RFQ_DATA_DIR=str(data_dir))
    return env


def _add_user(env: dict[str, str], *args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rfq-pipeline"), "desk", "add-user", *args, "--password-stdin"],
        input=password + "\n", cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_add_user_reads_the_password_from_stdin(clean_db: str, tmp_path: Path, app: Flask) -> None:
    env = _env(clean_db, tmp_path)
    added = _add_user(env, "New.Rep@Desk.Example", "--role", "rep", password="a long enough secret")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added rep new.rep@desk.example"
    assert "a long enough secret" not in added.stdout + added.stderr
    again = _add_user(env, "new.rep@desk.example", "--role", "lead", password="another long secret")
    assert again.returncode == 2 and "already exists" in again.stderr
    short = _add_user(env, "short@desk.example", "--role", "rep", password="too short")
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    with psycopg.connect(clean_db) as conn:
        rows = conn.execute("SELECT email, role, password_hash LIKE '$argon2id$%' FROM desk_users").fetchall()
    assert rows == [("new.rep@desk.example", "rep", True)]
    assert sign_in(app.test_client(), "new.rep@desk.example", "a long enough secret").status_code == 302


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_answers_on_the_port_it_was_given(clean_db: str, tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "rfq-pipeline"), "desk", "serve", "--port", str(port)],
        cwd=REPO_ROOT, env=_env(clean_db, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
                    page, headers = response.read().decode(), response.headers
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the desk did not start"
                time.sleep(0.3)
        assert 'id="sign-in"' in page and headers["X-Frame-Options"] == "SAMEORIGIN"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_new_password_ends_old_sessions_and_a_locked_out_user_gets_nowhere(
    clean_db: str, tmp_path: Path, app: Flask, users: dict[str, int]
) -> None:
    from rfq_pipeline_tests.desk.conftest import PASSWORD, REP

    env = _env(clean_db, tmp_path)
    old_session = app.test_client()
    assert sign_in(old_session).status_code == 302 and old_session.get("/").status_code == 200
    time.sleep(1.1)  # sessions count whole seconds: the change must come after the sign-in
    changed = subprocess.run(
        [str(BIN / "rfq-pipeline"), "desk", "set-password", REP.upper(), "--password-stdin"],
        input="a brand new long secret\n", cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    assert "a brand new long secret" not in changed.stdout + changed.stderr
    assert old_session.get("/").status_code != 200  # the cookie from before the change no longer signs in
    assert sign_in(app.test_client(), REP, PASSWORD).status_code == 401
    fresh = app.test_client()
    assert sign_in(fresh, REP, "a brand new long secret").status_code == 302 and fresh.get("/").status_code == 200

    def desk(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "rfq-pipeline"), "desk", *args], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    assert desk("deactivate", REP).returncode == 0
    assert fresh.get("/").status_code != 200
    assert sign_in(app.test_client(), REP, "a brand new long secret").status_code == 401
    assert desk("activate", REP).returncode == 0
    assert sign_in(app.test_client(), REP, "a brand new long secret").status_code == 302
    missing = desk("deactivate", "nobody@desk.example")
    assert missing.returncode == 2 and "there is no desk user nobody@desk.example" in missing.stderr
