"""Behind an AWS ALB with OIDC sign-in: the desk trusts the ES256-signed ``x-amzn-oidc-data`` header of its own load
balancer only, checked with a key pair made here and a key fetcher that counts its calls (no network)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from flask import Flask

from rfq_pipeline.db.database import Database
from rfq_pipeline.desk.app import create_app
from rfq_pipeline.desk.auth import AlbTokenError, AlbVerifier
from rfq_pipeline.settings import Settings, SettingsError
from rfq_pipeline_tests.desk.conftest import REP, seed_draft

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/rfq-desk/50dc6c495c0c9188"
KID = "5b1d3f0c-7a2e-4c1d-9f00-0123456789ab"


def _b64(data: bytes) -> str:
    # The ALB pads its segments; the verifier must accept that.
    return base64.urlsafe_b64encode(data).decode()


def token(key: ec.EllipticCurvePrivateKey, *, email: str = REP, signer: str = ARN, exp: float | None = None,
          kid: str = KID) -> str:  # fmt: skip
    header = {"alg": "ES256", "kid": kid, "signer": signer, "iss": "https://idp.example", "client": "desk",
              "exp": int(exp if exp is not None else time.time() + 120)}  # fmt: skip
    payload = {"sub": "1234", "email": email, "exp": header["exp"], "iss": "https://idp.example"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@pytest.fixture()
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture()
def fetched() -> list[str]:
    return []


@pytest.fixture()
def verifier(key: ec.EllipticCurvePrivateKey, fetched: list[str]) -> AlbVerifier:
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem

    return AlbVerifier(ARN, fetch=fetch)


@pytest.fixture()
def alb_app(settings: Settings, database: Database, verifier: AlbVerifier, users, monkeypatch) -> Flask:
    monkeypatch.setenv("RFQ_DESK_AUTH", "alb-oidc")
    monkeypatch.setenv("RFQ_DESK_ALB_ARN", ARN)
    return create_app(Settings.from_env(), database, alb_verifier=verifier)


def test_a_signed_header_of_our_alb_signs_an_active_user_in(
    alb_app: Flask, key: ec.EllipticCurvePrivateKey, fetched: list[str], settings: Settings
) -> None:
    draft_id = seed_draft(settings, "alb")
    client = alb_app.test_client()
    headers = {"x-amzn-oidc-data": token(key, email="Rep@Desk.Example")}
    page = client.get("/", headers=headers).get_data(as_text=True)
    assert f'data-draft-id="{draft_id}"' in page and "rep@desk.example (rep)" in page
    assert client.get(f"/drafts/{draft_id}", headers=headers).status_code == 200
    assert fetched == [f"https://public-keys.auth.elb.eu-west-1.amazonaws.com/{KID}"]  # fetched once, then cached
    assert client.get("/login").headers["Location"] == "/"  # no password page behind the ALB


def test_a_missing_forged_foreign_or_expired_header_is_refused(alb_app: Flask, key: ec.EllipticCurvePrivateKey) -> None:
    client = alb_app.test_client()
    stranger = ec.generate_private_key(ec.SECP256R1())
    good = token(key)
    head, _payload, signature = good.split(".")
    other_payload = _b64(json.dumps({"email": "lead@desk.example", "exp": int(time.time()) + 120}).encode())
    cases = {
        "no header": None,
        "signed with another key": token(stranger),
        "another load balancer": token(key, signer=ARN.replace("rfq-desk", "evil")),
        "expired": token(key, exp=time.time() - 1),
        "claims swapped": f"{head}.{other_payload}.{signature}",
        "garbage": "not-a-jwt",
    }
    for name, value in cases.items():
        response = client.get("/", headers={"x-amzn-oidc-data": value} if value else {})
        assert response.status_code == 401, name
    assert client.get("/", headers={"x-amzn-oidc-data": good}).status_code == 200


def test_a_signed_in_person_without_a_desk_user_is_forbidden(alb_app: Flask, key, settings: Settings) -> None:
    response = alb_app.test_client().get("/", headers={"x-amzn-oidc-data": token(key, email="new@desk.example")})
    assert response.status_code == 403
    assert "new@desk.example is not an active desk user" in response.get_data(as_text=True)


def test_the_verifier_checks_kid_and_arn(verifier: AlbVerifier, key) -> None:
    now = datetime.now(UTC)
    assert verifier.claims(token(key), now=now)["email"] == REP
    with pytest.raises(AlbTokenError, match="kid"):
        verifier.claims(token(key, kid="../../evil"), now=now)
    with pytest.raises(ValueError, match="not an application load balancer ARN"):
        AlbVerifier("arn:aws:iam::123456789012:role/desk")


def test_alb_mode_needs_the_load_balancer_arn(settings: Settings, database: Database, monkeypatch) -> None:
    monkeypatch.setenv("RFQ_DESK_AUTH", "alb-oidc")
    monkeypatch.delenv("RFQ_DESK_ALB_ARN", raising=False)
    with pytest.raises(SettingsError, match="RFQ_DESK_ALB_ARN"):
        create_app(Settings.from_env(), database)
    monkeypatch.setenv("RFQ_DESK_ALB_ARN", ARN)
    assert create_app(Settings.from_env(), database).extensions["rfq_desk"].alb.region == "eu-west-1"
