"""Secrets an installation makes for itself when none is configured: the export salt, the desk's signing key.

Each lives in one file under ``RFQ_DATA_DIR/secrets`` (mode 0600), away from anything analysts or buyers are given.
A deployment with more than one process host sets the secret in the environment instead (from SSM or Secrets
Manager), because each host would otherwise make its own.
"""

from __future__ import annotations

import os
import secrets
import uuid
from contextlib import suppress
from pathlib import Path

SECRETS_DIR = Path("secrets")
MIN_HEX_CHARS = 32


class InstallationSecretError(RuntimeError):
    """The secret file exists but holds nothing usable."""


def installation_secret(data_dir: Path, name: str) -> str:
    """The secret ``name`` under ``data_dir``, created once (32 random bytes as hex, mode 0600).

    Creation is race-free: the secret is written to a private temporary file and hard-linked into place, which fails
    if another process got there first; everyone then reads the one file that won.
    """
    path = data_dir / SECRETS_DIR / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
                handle.flush()
                os.fsync(handle.fileno())
            with suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_HEX_CHARS:
        raise InstallationSecretError(f"{path} holds no usable secret; delete it to create a new one")
    return value
