"""Archives uploaded to the object store under ``imports/<source>/``: which source, which mapping, the file itself.

An archive at ``imports/<source>/<name>.<ext>`` is imported as RFQs of the loader source ``<source>``. A
``imports/<source>/mapping.yaml`` beside it, when present, names its columns (known layouts need none).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rfq_pipeline.aws.naming import IMPORTS_PREFIX
from rfq_pipeline.imports.mapping import ColumnMapping, load_mapping
from rfq_pipeline.imports.readers import file_format
from rfq_pipeline.store.object_store import ObjectStore

MAPPING_NAME = "mapping.yaml"


@dataclass(frozen=True)
class ArchiveKey:
    """An archive's object key, read."""

    key: str
    source: str
    name: str

    @property
    def mapping_key(self) -> str:
        """Where this source's mapping file would be."""
        return f"{IMPORTS_PREFIX}{self.source}/{MAPPING_NAME}"


def archive_key(key: str) -> ArchiveKey:
    """Read ``imports/<source>/<name>``; raises ``ValueError`` with what is wrong with the key."""
    path = PurePosixPath(key)
    parts = path.parts
    if len(parts) != 3 or parts[0] + "/" != IMPORTS_PREFIX:
        raise ValueError(f"{key}: put archives at imports/<source>/<file> (one folder per loader source)")
    file_format(Path(parts[2]))  # an unsupported format is refused before anything is fetched
    return ArchiveKey(key=key, source=parts[1], name=parts[2])


def is_archive(key: str) -> bool:
    """Whether an object under ``imports/`` is an archive to import (not a mapping file or a folder marker)."""
    return key.startswith(IMPORTS_PREFIX) and not key.endswith("/") and PurePosixPath(key).name != MAPPING_NAME


@contextmanager
def fetched(store: ObjectStore, archive: ArchiveKey) -> Iterator[tuple[Path, ColumnMapping | None]]:
    """The archive as a local file (the readers need a path) and the source's mapping, if it has one."""
    with tempfile.TemporaryDirectory(prefix="rfq-import-") as tmp:
        local = Path(tmp) / archive.name
        local.write_bytes(store.get(archive.key))
        mapping = None
        if store.exists(archive.mapping_key):
            mapping_path = Path(tmp) / MAPPING_NAME
            mapping_path.write_bytes(store.get(archive.mapping_key))
            mapping = load_mapping(mapping_path)
        yield local, mapping
