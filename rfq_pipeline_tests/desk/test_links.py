"""Signed single-use links from Slack: forged, expired and used links change nothing; open goes to the draft;
approve asks on the GET and approves once on the POST."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from flask.testing import FlaskClient

from rfq_pipeline.desk.links import mint_link
from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.desk.conftest import REP, events, seed_draft, state_of


def _mint(settings: Settings, draft_id: int, action: str, **kwargs) -> str:
    with psycopg.connect(str(settings.database_url)) as conn:
        url = mint_link(conn, settings, draft_id, action, "new_draft", now=kwargs.pop("now", datetime.now(UTC)),
                        **kwargs)  # fmt: skip
    assert url.startswith(f"{settings.desk_url}/l/")
    return url.removeprefix(settings.desk_url)


def _tokens(settings: Settings) -> list[tuple]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return conn.execute("SELECT action, purpose, used_by FROM desk_link_tokens ORDER BY issued_at").fetchall()


def _form_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_following_a_link_needs_a_sign_in_and_comes_back(settings: Settings, app, users) -> None:
    draft_id = seed_draft(settings, "signin")
    path = _mint(settings, draft_id, "open")
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/l/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    signed_in = client.post("/login", data={"email": REP, "password": "correct horse battery staple",
                                            "next": path, "csrf_token": _form_token(page)})  # fmt: skip
    assert signed_in.headers["Location"] == path
    assert _tokens(settings) == [("open", "new_draft", None)]  # being sent to sign in used nothing


def test_an_open_link_goes_to_the_draft_once(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "open")
    path = _mint(settings, draft_id, "open")
    response = rep.get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/drafts/{draft_id}"
    assert _tokens(settings) == [("open", "new_draft", REP)]
    assert events(settings, draft_id) == [("link_used", "queued", "queued", REP, "new_draft link: open")]
    again = rep.get(path)
    assert again.status_code == 400 and "this link was already used" in again.get_data(as_text=True)
    assert len(events(settings, draft_id)) == 1


def _signed(secret: str, payload: dict) -> str:
    from itsdangerous import URLSafeTimedSerializer

    return "/l/" + URLSafeTimedSerializer(secret, salt="desk-link").dumps(payload)


@pytest.mark.parametrize("tamper", ["signature", "payload", "other key", "row of another draft", "no row"])
def test_a_forged_link_is_refused(settings: Settings, rep: FlaskClient, tamper: str) -> None:
    draft_id = seed_draft(settings, "forged")
    other = seed_draft(settings, "other")
    path = _mint(settings, draft_id, "approve")
    _mint(settings, other, "approve")
    mine, other_token = _token_ids(settings)
    if tamper == "signature":
        forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    elif tamper == "payload":
        head, _, rest = path.removeprefix("/l/").partition(".")
        forged = "/l/" + head[:-2] + ("xx" if not head.endswith("xx") else "yy") + "." + rest
    elif tamper == "other key":
        forged = _signed("another-secret-0123456789abcdefghijklmnop", {"t": mine, "d": draft_id,
                                                                       "a": "approve"})  # fmt: skip
    elif tamper == "row of another draft":
        # Even with the key, a token is good only for the draft and action it was minted for.
        forged = _signed(str(settings.desk_secret_key), {"t": other_token, "d": draft_id, "a": "approve"})
    else:
        forged = _signed(str(settings.desk_secret_key), {"t": "no-such-token", "d": draft_id, "a": "approve"})
    token = _form_token(rep.get("/").get_data(as_text=True))
    for response in (rep.get(forged), rep.post(forged, data={"csrf_token": token, "version": "1"})):
        assert response.status_code == 400
        assert "this link is forged or expired" in response.get_data(as_text=True)
    assert state_of(settings, draft_id)[0] == "queued" and events(settings, draft_id) == []
    assert state_of(settings, other)[0] == "queued" and events(settings, other) == []
    assert all(used_by is None for *_rest, used_by in _tokens(settings))


def _token_ids(settings: Settings) -> list[str]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return [t for (t,) in conn.execute("SELECT token_id FROM desk_link_tokens ORDER BY issued_at, token_id")]


def test_an_expired_link_is_refused(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "expired")
    path = _mint(settings, draft_id, "open", now=datetime.now(UTC) - timedelta(hours=73))
    response = rep.get(path)
    assert response.status_code == 400 and "this link is forged or expired" in response.get_data(as_text=True)
    # Past the signature's own limit too, whatever the row would allow.
    old = _mint(settings, draft_id, "open", now=datetime.now(UTC) - timedelta(days=15), ttl=timedelta(days=14))
    assert rep.get(old).status_code == 400
    assert _tokens(settings) == [("open", "new_draft", None), ("open", "new_draft", None)]
    assert events(settings, draft_id) == []


def test_an_approve_link_asks_first_and_approves_once(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "approve-link")
    path = _mint(settings, draft_id, "approve")
    page = rep.get(path).get_data(as_text=True)
    assert 'id="link-approve-form"' in page and 'id="confirm-approve"' in page and 'id="confirm-address"' in page
    assert state_of(settings, draft_id)[0] == "queued" and _tokens(settings)[0][2] is None  # a GET changes nothing

    token = _form_token(page)
    # Without the address confirmed: refused, and the link stays usable.
    refused = rep.post(path, data={"csrf_token": token, "version": "1"})
    assert refused.status_code == 302 and refused.headers["Location"] == path
    assert state_of(settings, draft_id)[0] == "queued" and _tokens(settings)[0][2] is None

    done = rep.post(path, data={"csrf_token": token, "version": "1", "confirm_address": "1"})
    assert done.status_code == 302 and done.headers["Location"] == f"/drafts/{draft_id}"
    assert state_of(settings, draft_id)[0] == "approved"
    assert _tokens(settings) == [("approve", "new_draft", REP)]
    assert [e[0] for e in events(settings, draft_id)] == ["link_used", "state"]

    again = rep.post(path, data={"csrf_token": token, "version": "1", "confirm_address": "1"})
    assert again.status_code == 400 and "this link was already used" in again.get_data(as_text=True)
    assert [e[0] for e in events(settings, draft_id)] == ["link_used", "state"]


def test_mint_link_refuses_what_it_cannot_honour(settings: Settings) -> None:
    draft_id = seed_draft(settings, "mint")
    with psycopg.connect(str(settings.database_url)) as conn:
        with pytest.raises(ValueError, match="link action"):
            mint_link(conn, settings, draft_id, "reject", "new_draft", now=datetime.now(UTC))
        with pytest.raises(ValueError, match="between 0 and 14 days"):
            mint_link(conn, settings, draft_id, "open", "new_draft", now=datetime.now(UTC), ttl=timedelta(days=30))
