"""Who may act at the desk: desk users with argon2id passwords, the sign-in rate limit, roles, and the identity an
AWS load balancer vouches for when the desk sits behind its OIDC sign-in.

Plain functions over a psycopg connection; the Flask app only calls them and turns their refusals into pages.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from rfq_pipeline.installation_secrets import installation_secret
from rfq_pipeline.settings import Settings

ROLES = ("rep", "lead")
MIN_PASSWORD_LENGTH = 12
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
# One text for an unknown address, a wrong password and a deactivated user, so the form tells nobody who exists.
SIGN_IN_REFUSED = "wrong e-mail address or password"

# argon2-cffi's default type is argon2id; its parameters follow the library's current recommendation, and a hash made
# with older ones is replaced at the next successful sign-in.
_hasher = PasswordHasher()


class UserError(ValueError):
    """A desk user cannot be added as asked; the message says why."""


class SignInRefused(Exception):
    """A sign-in that did not succeed: ``status`` is 401 (wrong credentials) or 429 (rate limit)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class DeskUser:
    """A person who may act on drafts."""

    id: int
    email: str
    role: str
    active: bool
    password_changed_at: datetime | None = None  # sessions signed in before it no longer count

    @property
    def is_lead(self) -> bool:
        """Leads see escalations first and may approve drafts for high-risk buyers."""
        return self.role == "lead"


def desk_secret(settings: Settings) -> str:
    """The key that signs desk cookies and Slack links: ``RFQ_DESK_SECRET_KEY`` or the installation's own."""
    return settings.desk_secret_key or installation_secret(settings.data_dir, "desk_secret_key")


def normalize_email(email: str) -> str:
    """Addresses are compared lower-cased and without surrounding blanks."""
    return email.strip().lower()


def _is_address(email: str) -> bool:
    return bool(re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email))


def add_user(conn: psycopg.Connection, email: str, role: str, password: str) -> DeskUser:
    """Create a desk user with an argon2id password hash (committed by the caller's transaction).

    Raises :class:`UserError` for a malformed address, an unknown role, a password shorter than
    :data:`MIN_PASSWORD_LENGTH` and an address that already has a user.
    """
    address = normalize_email(email)
    if not _is_address(address):
        raise UserError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise UserError(f"role {role!r} must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    row = conn.execute(
        "INSERT INTO desk_users (email, role, password_hash) VALUES (%s, %s, %s) "
        "ON CONFLICT (email) DO NOTHING RETURNING id",
        (address, role, _hasher.hash(password)),
    ).fetchone()
    if row is None:
        raise UserError(f"a desk user {address} already exists")
    return DeskUser(int(row[0]), address, role, True)


def set_password(conn: psycopg.Connection, email: str, password: str) -> None:
    """Give a user a new password (argon2id); every session signed in before it stops working. Raises
    :class:`UserError` for a short password or an unknown user."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    address = normalize_email(email)
    cur = conn.execute(
        "UPDATE desk_users SET password_hash = %s, password_changed_at = now() WHERE email = %s",
        (_hasher.hash(password), address),
    )
    if cur.rowcount != 1:
        raise UserError(f"there is no desk user {address}")


def set_active(conn: psycopg.Connection, email: str, active: bool) -> None:
    """Let a user in again, or lock them out (their open sessions stop working at their next request)."""
    address = normalize_email(email)
    cur = conn.execute("UPDATE desk_users SET active = %s WHERE email = %s", (active, address))
    if cur.rowcount != 1:
        raise UserError(f"there is no desk user {address}")


_SELECT_USER = "SELECT id, email, role, active, password_changed_at FROM desk_users"


def user_by_id(conn: psycopg.Connection, user_id: int) -> DeskUser | None:
    """The user with this id, active or not, or ``None``."""
    row = conn.execute(f"{_SELECT_USER} WHERE id = %s", (user_id,)).fetchone()
    return None if row is None else DeskUser(int(row[0]), row[1], row[2], bool(row[3]), row[4])


def active_user_by_email(conn: psycopg.Connection, email: str) -> DeskUser | None:
    """The active user with this address, or ``None``."""
    row = conn.execute(f"{_SELECT_USER} WHERE email = %s AND active", (normalize_email(email),)).fetchone()
    return None if row is None else DeskUser(int(row[0]), row[1], row[2], True, row[4])


FAILURES_BY_EMAIL = """
SELECT at FROM desk_login_attempts WHERE email = %s AND NOT succeeded AND at > %s ORDER BY at DESC LIMIT %s
"""
FAILURES_BY_ADDRESS = """
SELECT at FROM desk_login_attempts WHERE remote_addr = %s AND NOT succeeded AND at > %s ORDER BY at DESC LIMIT %s
"""


def throttle_minutes(conn: psycopg.Connection, email: str, remote_addr: str, now: datetime) -> int | None:
    """Minutes until another sign-in may be tried for this address or from this client, ``None`` when it may now.

    The limit lifts when enough of the window's failures have aged out of it: at the moment the failure that makes
    the count reach the limit is :data:`FAILURE_WINDOW` old.
    """
    since = now - FAILURE_WINDOW
    waits = []
    for statement, limit, value in (
        (FAILURES_BY_EMAIL, MAX_FAILURES_PER_EMAIL, normalize_email(email)),
        (FAILURES_BY_ADDRESS, MAX_FAILURES_PER_ADDRESS, remote_addr),
    ):
        rows = conn.execute(statement, (value, since, limit)).fetchall()
        if len(rows) >= limit:
            lifts_at = rows[limit - 1][0] + FAILURE_WINDOW
            waits.append(max(1, math.ceil((lifts_at - now).total_seconds() / 60)))
    return max(waits) if waits else None


@cache
def _absent_user_hash() -> str:
    # Verifying against a real hash for unknown addresses makes them take as long as a wrong password.
    return _hasher.hash("no such desk user; this hash only spends the time a real check takes")


def _record_attempt(conn: psycopg.Connection, email: str, remote_addr: str, succeeded: bool, now: datetime) -> None:
    conn.execute(
        "INSERT INTO desk_login_attempts (email, remote_addr, succeeded, at) VALUES (%s, %s, %s, %s)",
        (email, remote_addr, succeeded, now),
    )


def sign_in(conn: psycopg.Connection, email: str, password: str, remote_addr: str, now: datetime) -> DeskUser:
    """Check a password sign-in and record the attempt; returns the user or raises :class:`SignInRefused`.

    A throttled attempt is refused before the password is looked at, so a correct guess during the lockout reveals
    nothing. The attempt is committed here, before any refusal propagates, so a caller's rollback cannot erase it.
    """
    address = normalize_email(email)
    wait = throttle_minutes(conn, address, remote_addr, now)
    if wait is not None:
        _record_attempt(conn, address, remote_addr, False, now)
        conn.commit()
        raise SignInRefused(f"too many attempts, try again in {wait} minutes", 429)
    row = conn.execute(
        "SELECT id, email, role, active, password_hash FROM desk_users WHERE email = %s", (address,)
    ).fetchone()
    verified = False
    try:
        verified = _hasher.verify(row[4] if row is not None else _absent_user_hash(), password)
    except (VerificationError, InvalidHashError):
        verified = False
    succeeded = row is not None and verified and bool(row[3])
    _record_attempt(conn, address, remote_addr, succeeded, now)
    if not succeeded or row is None:
        conn.commit()
        raise SignInRefused(SIGN_IN_REFUSED, 401)
    if _hasher.check_needs_rehash(row[4]):
        conn.execute("UPDATE desk_users SET password_hash = %s WHERE id = %s", (_hasher.hash(password), row[0]))
    conn.execute("UPDATE desk_users SET last_login_at = %s WHERE id = %s", (now, row[0]))
    conn.commit()
    return DeskUser(int(row[0]), row[1], row[2], True)


# --- Behind an AWS Application Load Balancer's authenticate-oidc action -------------------------------------------

ALB_HEADER = "x-amzn-oidc-data"
KeyFetcher = Callable[[str], bytes]
_KID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_ALB_ARN = re.compile(r"arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):\d{12}:loadbalancer/app/.+")


class AlbTokenError(ValueError):
    """The load balancer's header is missing, malformed, expired, from another load balancer or badly signed."""


def _b64(part: str) -> bytes:
    # The load balancer pads its base64url segments with '=', which strict JWT readers reject; accept both forms.
    text = part.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise AlbTokenError("the token is not base64url") from error


def fetch_alb_key(url: str) -> bytes:
    """The PEM public key at ``url`` (the load balancer's regional key endpoint)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


class AlbVerifier:
    """Checks the ES256-signed ``x-amzn-oidc-data`` header the load balancer adds after signing a person in.

    The public key for the header's ``kid`` comes from ``https://public-keys.auth.elb.<region>.amazonaws.com/<kid>``
    and is cached; the header's ``signer`` must be the configured load balancer, so a token minted by another ALB
    (which anyone can set up) is refused.
    """

    def __init__(self, alb_arn: str, *, fetch: KeyFetcher = fetch_alb_key, region: str | None = None) -> None:
        match = _ALB_ARN.fullmatch(alb_arn.strip())
        if match is None:
            raise ValueError(f"{alb_arn!r} is not an application load balancer ARN")
        self.alb_arn = alb_arn.strip()
        self.region = region or match.group(1)
        self._fetch = fetch
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._lock = threading.Lock()

    def key_url(self, kid: str) -> str:
        """Where the load balancer publishes the public key ``kid``."""
        return f"https://public-keys.auth.elb.{self.region}.amazonaws.com/{kid}"

    def _key(self, kid: str) -> ec.EllipticCurvePublicKey:
        with self._lock:
            cached = self._keys.get(kid)
        if cached is not None:
            return cached
        try:
            key = serialization.load_pem_public_key(self._fetch(self.key_url(kid)))
        except (OSError, ValueError) as error:
            raise AlbTokenError(f"no public key for kid {kid!r}: {error}") from error
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise AlbTokenError(f"the key for kid {kid!r} is not a P-256 key")
        with self._lock:
            self._keys[kid] = key
        return key

    def claims(self, token: str, *, now: datetime) -> dict[str, Any]:
        """The verified claims of the header (``email`` among them); raises :class:`AlbTokenError`."""
        parts = token.strip().split(".")
        if len(parts) != 3:
            raise AlbTokenError("the token does not have three parts")
        try:
            header = json.loads(_b64(parts[0]))
            payload = json.loads(_b64(parts[1]))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise AlbTokenError("the token's header or claims are not JSON") from error
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise AlbTokenError("the token's header and claims must be JSON objects")
        if header.get("alg") != "ES256":
            raise AlbTokenError(f"algorithm {header.get('alg')!r} is not ES256")
        if header.get("signer") != self.alb_arn:
            raise AlbTokenError("the token was signed by another load balancer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.fullmatch(kid):
            raise AlbTokenError("the token has no usable kid")
        signature = _b64(parts[2])
        if len(signature) != 64:
            raise AlbTokenError("an ES256 signature is 64 bytes")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            self._key(kid).verify(der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as error:
            raise AlbTokenError("the token's signature does not verify") from error
        exp = header.get("exp", payload.get("exp"))
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise AlbTokenError("the token has no expiry")
        if now.timestamp() >= exp:
            raise AlbTokenError("the token has expired")
        return payload


__all__ = [
    "ALB_HEADER",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "SIGN_IN_REFUSED",
    "AlbTokenError",
    "AlbVerifier",
    "DeskUser",
    "SignInRefused",
    "UserError",
    "active_user_by_email",
    "add_user",
    "desk_secret",
    "fetch_alb_key",
    "normalize_email",
    "sign_in",
    "throttle_minutes",
    "user_by_id",
]
