"""``rfq-pipeline desk ...``: serve the sales desk, add desk users."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

import psycopg

from rfq_pipeline.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3100


def _migrated_url(settings: Settings) -> str:
    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import resolve_database_url

    url = resolve_database_url(settings)
    migrations.migrate(url, settings.migrations_dir)
    return url


def serve_command(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *, threads: int = 8) -> int:
    """Serve the desk with waitress until interrupted (migrating the database first)."""
    import waitress

    from rfq_pipeline.db.database import Database
    from rfq_pipeline.desk.app import create_app

    settings = Settings.from_env()
    with Database(_migrated_url(settings), min_size=1, max_size=threads) as db:
        app = create_app(settings, db)
        print(f"sales desk on http://{host}:{port} (links point to {settings.desk_url})", file=sys.stderr)
        waitress.serve(app, host=host, port=port, threads=threads, ident="rfq-desk")
    return 0


def read_password(*, from_stdin: bool) -> str:
    """The new user's password: one line of standard input for scripts, else typed twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("password again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _change_users(change: Callable[[psycopg.Connection], str]) -> int:
    """Run one change of ``desk_users`` on the migrated database: print what it did, or its refusal (exit 2)."""
    from rfq_pipeline.db.database import Database
    from rfq_pipeline.desk.auth import UserError

    settings = Settings.from_env()
    with Database(_migrated_url(settings), min_size=1, max_size=1) as db, db.connection() as conn:
        try:
            done = change(conn)
        except UserError as error:
            conn.rollback()
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(done)
    return 0


def _password(from_stdin: bool) -> str | None:
    try:
        return read_password(from_stdin=from_stdin)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def add_user_command(email: str, role: str, *, password_stdin: bool) -> int:
    """Add a desk user; the password never comes from the command line, where other users could read it."""
    from rfq_pipeline.desk.auth import add_user

    password = _password(password_stdin)
    if password is None:
        return 2

    def change(conn: psycopg.Connection) -> str:
        user = add_user(conn, email, role, password)
        return f"added {user.role} {user.email}"

    return _change_users(change)


def set_password_command(email: str, *, password_stdin: bool) -> int:
    """Give a desk user a new password; their open sessions end."""
    from rfq_pipeline.desk.auth import set_password

    password = _password(password_stdin)
    if password is None:
        return 2

    def change(conn: psycopg.Connection) -> str:
        set_password(conn, email, password)
        return f"new password for {email.strip().lower()}; their open sessions have ended"

    return _change_users(change)


def set_active_command(email: str, *, active: bool) -> int:
    """Lock a desk user out (``active=False``) or let them in again."""
    from rfq_pipeline.desk.auth import set_active

    def change(conn: psycopg.Connection) -> str:
        set_active(conn, email, active)
        outcome = "may sign in again" if active else "is locked out; their open sessions have ended"
        return f"{email.strip().lower()} {outcome}"

    return _change_users(change)
