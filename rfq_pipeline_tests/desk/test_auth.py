"""Who may act: argon2id users, password sign-in with one refusal text, the rate limit, sessions and CSRF."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from argon2 import PasswordHasher
from flask import Flask

from rfq_pipeline.desk.auth import SIGN_IN_REFUSED, UserError, add_user
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.desk.conftest import LEAD, PASSWORD, REP, csrf, events, seed_draft, sign_in, state_of


def _hash(settings: Settings, email: str) -> str:
    with psycopg.connect(str(settings.database_url)) as conn:
        return conn.execute("SELECT password_hash FROM desk_users WHERE email = %s", (email,)).fetchone()[0]


def test_add_user_hashes_with_argon2id_and_refuses_duplicates_and_short_passwords(settings: Settings) -> None:
    with psycopg.connect(str(settings.database_url)) as conn:
        user = add_user(conn, "  Rep@Desk.Example ", "rep", PASSWORD)
        conn.commit()
        assert (user.email, user.role, user.active) == (REP, "rep", True)
        with pytest.raises(UserError, match="already exists"):
            add_user(conn, "REP@desk.example", "lead", "another long password")
        conn.rollback()
        with pytest.raises(UserError, match="at least 12 characters"):
            add_user(conn, "new@desk.example", "rep", "short-pw")
        with pytest.raises(UserError, match="role"):
            add_user(conn, "new@desk.example", "admin", PASSWORD)
        count = conn.execute("SELECT count(*) FROM desk_users").fetchone()[0]
    stored = _hash(settings, REP)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    assert count == 1


def test_sign_in_then_out(app: Flask, users: dict[str, int]) -> None:
    client = app.test_client()
    assert client.get("/").headers["Location"].startswith("/login")
    response = sign_in(client, "REP@desk.example")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert 'id="signed-in-user">rep@desk.example (rep)' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302  # signed out: back to the sign-in page


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
    settings: Settings, database, users: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rfq_pipeline.desk.app import create_app

    monkeypatch.setenv("RFQ_DESK_URL", "https://desk.example.test")
    client = create_app(Settings.from_env(), database).test_client()
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie and "Expires=" in cookie


def test_unknown_user_and_wrong_password_get_the_same_answer(app: Flask, users: dict[str, int]) -> None:
    client = app.test_client()
    wrong = sign_in(client, REP, "not the password at all")
    unknown = sign_in(client, "nobody@desk.example", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert SIGN_IN_REFUSED in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # neither signed in


def test_five_failures_lock_the_address_even_for_the_right_password(
    app: Flask, settings: Settings, users: dict[str, int]
) -> None:
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, REP, "wrong password guess").status_code == 401
    locked = sign_in(client, REP, PASSWORD)
    assert locked.status_code == 429
    assert "too many attempts, try again in 15 minutes" in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert sign_in(client, LEAD).status_code == 302  # another address from the same client is not locked yet
    with psycopg.connect(str(settings.database_url)) as conn:
        attempts = conn.execute(
            "SELECT succeeded FROM desk_login_attempts WHERE email = %s ORDER BY id", (REP,)
        ).fetchall()
    assert [a[0] for a in attempts] == [False] * 6


def test_failures_age_out_of_the_window(app: Flask, settings: Settings, users: dict[str, int]) -> None:
    old = datetime.now(UTC) - timedelta(minutes=16)
    with psycopg.connect(str(settings.database_url)) as conn:
        for _ in range(5):
            conn.execute(
                "INSERT INTO desk_login_attempts (email, remote_addr, succeeded, at) "
                "VALUES (%s, '127.0.0.1', false, %s)",
                (REP, old),
            )
    assert sign_in(app.test_client()).status_code == 302


def test_twenty_failures_from_one_client_lock_it_out(app: Flask, users: dict[str, int]) -> None:
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for number in range(20):
        assert sign_in(attacker, f"guess{number}@desk.example", "wrong password guess").status_code == 401
    assert sign_in(attacker, LEAD).status_code == 429
    assert sign_in(app.test_client(), LEAD).status_code == 302  # another client still gets in


def test_behind_the_load_balancer_clients_are_told_apart_by_its_forwarded_address(
    settings: Settings, database, users: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rfq_pipeline.desk.app import create_app

    monkeypatch.setenv("RFQ_DESK_PROXY_HOPS", "1")
    app = create_app(Settings.from_env(), database)
    attacker, colleague = app.test_client(), app.test_client()
    # Both arrive from the load balancer's address; only the address it appended tells them apart. A client's own
    # X-Forwarded-For entries (the first ones) are not believed.
    for client, address in ((attacker, "198.51.100.7"), (colleague, "198.51.100.8")):
        client.environ_base.update({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": f"1.2.3.4, {address}"})
    for number in range(20):
        assert sign_in(attacker, f"guess{number}@desk.example", "wrong password guess").status_code == 401
    assert sign_in(attacker, LEAD).status_code == 429
    assert sign_in(colleague, LEAD).status_code == 302
    with psycopg.connect(str(settings.database_url)) as conn:
        seen = {a for (a,) in conn.execute("SELECT DISTINCT remote_addr FROM desk_login_attempts").fetchall()}
    assert seen == {"198.51.100.7", "198.51.100.8"}


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(
    app: Flask, settings: Settings, users: dict[str, int]
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with psycopg.connect(str(settings.database_url)) as conn:
        conn.execute("UPDATE desk_users SET password_hash = %s WHERE email = %s", (weak, REP))
    assert sign_in(app.test_client()).status_code == 302
    renewed = _hash(settings, REP)
    assert renewed != weak and not PasswordHasher().check_needs_rehash(renewed)


def test_a_deactivated_users_session_stops_working(app: Flask, settings: Settings, rep) -> None:
    assert rep.get("/").status_code == 200
    with psycopg.connect(str(settings.database_url)) as conn:
        conn.execute("UPDATE desk_users SET active = false WHERE email = %s", (REP,))
    assert rep.get("/").status_code == 302
    assert sign_in(app.test_client()).status_code == 401


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(
    settings: Settings, rep, users: dict[str, int]
) -> None:
    draft_id = seed_draft(settings, "csrf")
    token = csrf(rep, f"/drafts/{draft_id}")
    for data in ({"reason": "too cheap"}, {"reason": "too cheap", "csrf_token": token[::-1]}):
        response = rep.post(f"/drafts/{draft_id}/reject", data=data)
        assert response.status_code == 400
        assert "security token is missing or wrong" in response.get_data(as_text=True)
    assert state_of(settings, draft_id) == ("queued", 1)
    assert events(settings, draft_id) == []
    # The login form is protected too, and a token from before signing in is worthless after it.
    anonymous = rep.application.test_client()
    before = csrf(anonymous)
    assert anonymous.post("/login", data={"email": REP, "password": PASSWORD}).status_code == 400
    assert anonymous.post("/login", data={"email": REP, "password": PASSWORD, "csrf_token": before}).status_code == 302
    response = anonymous.post(f"/drafts/{draft_id}/reject", data={"reason": "x", "csrf_token": before})
    assert response.status_code == 400 and state_of(settings, draft_id) == ("queued", 1)


def test_every_response_carries_the_security_headers(app: Flask, rep) -> None:
    for response in (app.test_client().get("/login"), rep.get("/"), rep.get("/drafts/999")):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "frame-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_a_session_ends_twelve_hours_after_sign_in(rep) -> None:
    assert rep.get("/").status_code == 200
    with rep.session_transaction() as session:
        session["since"] -= 12 * 3600 + 60
    assert rep.get("/").status_code == 302
    with rep.session_transaction() as session:
        assert "uid" not in session
