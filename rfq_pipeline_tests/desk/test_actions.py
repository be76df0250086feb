"""Acting on a draft from the desk: every action records the signed-in user, every refusal changes nothing."""

from __future__ import annotations

import psycopg
from flask.testing import FlaskClient

from rfq_pipeline.settings import Settings
from rfq_pipeline_tests.desk.conftest import LEAD, REP, csrf, events, flashes, seed_draft, state_of


def _post(client: FlaskClient, draft_id: int, action: str, **data: str) -> None:
    token = csrf(client, f"/drafts/{draft_id}")
    response = client.post(f"/drafts/{draft_id}/{action}", data={"csrf_token": token, **data})
    assert response.status_code == 302 and response.headers["Location"] == f"/drafts/{draft_id}"


def _version(settings: Settings, draft_id: int) -> str:
    return str(state_of(settings, draft_id)[1])


def _rows(settings: Settings, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(str(settings.database_url)) as conn:
        return conn.execute(sql, params).fetchall()


def test_reject_needs_a_reason(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "reject")
    _post(rep, draft_id, "reject", reason="   ")
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["say why the draft is rejected"]
    assert state_of(settings, draft_id) == ("queued", 1) and events(settings, draft_id) == []
    _post(rep, draft_id, "reject", reason="buyer is a competitor")
    assert state_of(settings, draft_id)[0] == "rejected"
    assert events(settings, draft_id) == [("state", "queued", "rejected", REP, "buyer is a competitor")]


def test_approval_needs_the_address_confirmed_and_a_second_one_is_refused(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "approve")
    _post(rep, draft_id, "approve", version="1")
    ok, errors = flashes(rep, f"/drafts/{draft_id}")
    assert errors == ["confirm that buyer@oasis-beauty.example belongs to the buyer before approving "
                      "(the address could not be verified)"]  # fmt: skip
    assert state_of(settings, draft_id) == ("queued", 1) and events(settings, draft_id) == []

    _post(rep, draft_id, "approve", version="1", confirm_address="1")
    ok, errors = flashes(rep, f"/drafts/{draft_id}")
    assert ok[0] == f"draft {draft_id} approved"
    # No sender is configured here: the approval stands and the mail that could not go says why.
    assert any("quote mail not_configured" in e and "RFQ_QUOTE_FROM" in e for e in errors)
    assert state_of(settings, draft_id)[0] == "approved"
    history = events(settings, draft_id)
    assert history[0] == ("state", "queued", "approved", REP, "")
    assert _rows(settings, "SELECT channel, delivered FROM quote_dispatches WHERE draft_id = %s", draft_id) == [
        ("sheet", True)
    ]

    _post(rep, draft_id, "approve", version="1", confirm_address="1")
    assert flashes(rep, f"/drafts/{draft_id}")[1] == [
        f"draft {draft_id} is already approved; it was not approved again"
    ]
    assert state_of(settings, draft_id)[0] == "approved" and events(settings, draft_id) == history


def test_only_a_lead_approves_a_high_risk_buyer(settings: Settings, rep: FlaskClient, lead: FlaskClient) -> None:
    draft_id = seed_draft(settings, "risky", risk="high")
    assert "only a sales lead may approve" in rep.get(f"/drafts/{draft_id}").get_data(as_text=True)
    _post(rep, draft_id, "approve", version="1", confirm_address="1")
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["only a sales lead may approve a draft for a high-risk buyer"]
    assert state_of(settings, draft_id)[0] == "queued" and events(settings, draft_id) == []
    _post(lead, draft_id, "approve", version="1", confirm_address="1")
    assert state_of(settings, draft_id)[0] == "approved"
    assert events(settings, draft_id)[0][3] == LEAD


def test_a_form_made_for_another_version_is_refused(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "stale")
    _post(rep, draft_id, "approve", version="2", confirm_address="1")
    assert "changed since this page was loaded" in flashes(rep, f"/drafts/{draft_id}")[1][0]
    assert state_of(settings, draft_id) == ("queued", 1)


def test_an_edit_makes_a_new_version_and_a_refused_one_changes_nothing(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "edit")
    # Below the SKU's minimum order: refused with the reason, nothing saved.
    _post(rep, draft_id, "edit", version="1", submit="save", **{"line-0-quantity": "10"})
    errors = flashes(rep, f"/drafts/{draft_id}")[1]
    assert any("below the minimum order" in e for e in errors), errors
    _post(rep, draft_id, "edit", version="1", submit="save", **{"line-0-quantity": "ten"})
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["line 1: the quantity 'ten' is not a whole number"]
    _post(rep, draft_id, "edit", version="1", submit="save", **{"line-0-quantity": "5000"})
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["nothing was changed"]
    _post(rep, draft_id, "edit", version="1", submit="save", cover_text="Our best offer, valid for ever.")
    assert "cover text: prices: BC-SKN-0001: unit price AED 7.94 is not cited" in flashes(rep, f"/drafts/{draft_id}")[1]
    assert state_of(settings, draft_id) == ("queued", 1) and events(settings, draft_id) == []

    _post(rep, draft_id, "edit", version="1", submit="save", **{"line-0-quantity": "10,000"})
    assert flashes(rep, f"/drafts/{draft_id}")[0] == [f"draft {draft_id} saved as version 2"]
    assert state_of(settings, draft_id) == ("edited", 2)
    (body,) = _rows(settings, "SELECT body FROM quote_drafts WHERE id = %s", draft_id)[0]
    assert body["lines"][0]["quantity"] == 10000
    assert [(a, actor) for a, _f, _t, actor, _n in events(settings, draft_id)] == [("state", REP), ("edit", REP)]
    page = rep.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "<td>2</td><td>edited</td>" in page and 'name="version" value="2"' in page


def test_save_and_approve(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "save-approve")
    cover = (
        "Dear Oasis team,\r\nBC-SKN-0001 Shea Butter Body Lotion 250ml: 5,000 tube at AED 7.94 per tube, "
        "line total AED 39700.00.\r\nTotal: AED 39700.00.\r\nKind regards"
    )
    _post(rep, draft_id, "edit", version="1", submit="approve", cover_text=cover, confirm_address="1")
    ok, errors = flashes(rep, f"/drafts/{draft_id}")
    assert ok[:2] == [f"draft {draft_id} saved as version 2", f"draft {draft_id} approved"], errors
    assert state_of(settings, draft_id) == ("approved", 2)
    (body,) = _rows(settings, "SELECT body FROM quote_drafts WHERE id = %s", draft_id)[0]
    assert body["cover_text"] == cover.replace("\r\n", "\n")


def test_a_marketplace_buyer_is_answered_through_a_reply_task(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "market", email=None, email_status=None)
    _post(rep, draft_id, "approve", version="1")  # no address: nothing to confirm
    ok, errors = flashes(rep, f"/drafts/{draft_id}")
    assert errors == [] and any("quote mail marketplace_task" in note for note in ok)
    assert state_of(settings, draft_id)[0] == "approved"
    assert "marketplace reply open" in rep.get("/").get_data(as_text=True)

    token = csrf(rep, f"/drafts/{draft_id}")
    response = rep.post(f"/drafts/{draft_id}/tasks/1/quote/done", data={"csrf_token": token})
    assert response.status_code == 302
    assert state_of(settings, draft_id)[0] == "sent"
    assert _rows(settings, "SELECT status, done_by FROM marketplace_reply_tasks WHERE draft_id = %s", draft_id) == [
        ("done", REP)
    ]
    rep.post(f"/drafts/{draft_id}/tasks/1/quote/done", data={"csrf_token": token})
    assert flashes(rep, f"/drafts/{draft_id}")[1] == [
        f"no open marketplace task for draft {draft_id} version 1 (quote)"
    ]

    _post(rep, draft_id, "mark", state="won", note="PO received")
    assert state_of(settings, draft_id)[0] == "won"
    assert events(settings, draft_id)[-1] == ("state", "sent", "won", REP, "PO received")


def test_a_question_goes_out_and_the_draft_waits_for_the_answer(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "question", email=None, email_status=None,
                          description="Please quote shea body lotion 250ml.")  # fmt: skip
    page = rep.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert "how many tubes do you need?" in page  # the prepared question fills the text area
    _post(rep, draft_id, "clarify", version="1", question="")
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["the question is empty"]
    _post(rep, draft_id, "clarify", version="1", question="How many tubes of the 250ml lotion do you need?")
    assert state_of(settings, draft_id)[0] == "clarifying"
    tasks = _rows(settings, "SELECT kind, body_text, status FROM marketplace_reply_tasks WHERE draft_id = %s", draft_id)
    assert tasks == [("clarification", "How many tubes of the 250ml lotion do you need?\n", "open")]
    token = csrf(rep, f"/drafts/{draft_id}")
    rep.post(f"/drafts/{draft_id}/tasks/1/clarification/done", data={"csrf_token": token})
    assert state_of(settings, draft_id)[0] == "clarifying"  # a posted question still waits for the answer
    assert _rows(settings, "SELECT status FROM marketplace_reply_tasks WHERE draft_id = %s", draft_id) == [("done",)]


def test_marks_follow_the_state_machine(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "marks")
    _post(rep, draft_id, "mark", state="won")
    assert "cannot move a draft from 'queued' to 'won'" in flashes(rep, f"/drafts/{draft_id}")[1][0]
    _post(rep, draft_id, "mark", state="expired")
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["'expired' is not one of sent, won, lost"]
    assert state_of(settings, draft_id)[0] == "queued" and events(settings, draft_id) == []


def test_a_rep_corrects_the_label_and_it_is_recorded_with_them(settings: Settings, rep: FlaskClient) -> None:
    draft_id = seed_draft(settings, "label")
    page = rep.get(f"/drafts/{draft_id}").get_data(as_text=True)
    assert 'id="label-form"' in page and '<option value="apparel_textiles">' in page
    rep.post(f"/drafts/{draft_id}/label", data={"industry": "apparel_textiles"})  # no CSRF token: refused
    rep.post(
        f"/drafts/{draft_id}/label",
        data={"csrf_token": csrf(rep, f"/drafts/{draft_id}"), "industry": "apparel_textiles"},
    )
    ok, errors = flashes(rep, f"/drafts/{draft_id}")
    assert errors == [] and ok[0].startswith("RFQ ") and "labeled apparel_textiles, not relevant" in ok[0]
    rep.post(f"/drafts/{draft_id}/label", data={"csrf_token": csrf(rep, f"/drafts/{draft_id}")})
    assert flashes(rep, f"/drafts/{draft_id}")[1] == ["say the industry, the relevance or both"]
    with psycopg.connect(str(settings.database_url)) as conn:
        labels = conn.execute("SELECT actor, industry, relevant, source FROM labels").fetchall()
        stored = conn.execute("SELECT provider, industry, relevant FROM classifications").fetchall()
    assert labels == [(REP, "apparel_textiles", False, "human")]
    assert stored == [("human", "apparel_textiles", False)]
