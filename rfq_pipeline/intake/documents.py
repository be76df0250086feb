"""Text from the documents buyers send: mail attachments and uploaded files alike.

:func:`extract_text` never raises for bad input. A file it cannot read (encrypted, corrupt, too large, of a kind it
does not handle) comes back with ``text=None`` and ``error`` saying why. Images are recorded as images, without OCR.
The kind is decided from the bytes first (magic numbers), then the file name, then the declared content type, so a
mislabelled upload is still read as what it is.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import zipfile
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_TEXT_CHARS = 500_000
DEFAULT_MAX_PAGES = 300
# A DOCX/XLSX is a zip: refuse one whose members would inflate past this (a zip bomb) before any parser opens it.
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024

KINDS = ("pdf", "docx", "xlsx", "csv", "text", "image", "unsupported", "empty")

_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".heic"}
_TEXT_EXTENSIONS = {".txt", ".text", ".md", ".log", ".eml.txt"}
_CSV_EXTENSIONS = {".csv", ".tsv"}
_DOCX_TYPES = {"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
_XLSX_TYPES = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_CSV_TYPES = {"text/csv", "text/tab-separated-values", "application/csv"}

# Declared charsets whose real-world text is often in a superset: try the superset before giving up.
_CHARSET_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gbk", "gb18030"),
    "gbk": ("gb18030",),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "euc_jp": ("euc_jis_2004",),
    "iso2022_jp": ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3"),
    "big5": ("cp950", "big5hkscs"),
    "ascii": ("utf_8",),
}
_CHARSET_ALIASES = {
    "x-sjis": "shift_jis",
    "x-gbk": "gbk",
    "x-euc-kr": "euc_kr",
    "x-euc-jp": "euc_jp",
    "unicode-1-1-utf-8": "utf_8",
}


@dataclass(frozen=True)
class ExtractedDocument:
    """What :func:`extract_text` read from one file.

    ``pages`` is the page count of a PDF or the sheet count of a workbook (``None`` for other kinds); ``encoding`` the
    charset a CSV or text file was decoded with; ``truncated`` whether the text was cut at the character limit.
    """

    kind: str
    text: str | None
    pages: int | None = None
    error: str | None = None
    encoding: str | None = None
    truncated: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "text": self.text,
            "pages": self.pages,
            "error": self.error,
            "encoding": self.encoding,
            "truncated": self.truncated,
        }


def codec_name(charset: str | None) -> str | None:
    """Python's canonical codec name for a MIME charset label (``EUC-KR`` -> ``euc_kr``), ``None`` if unknown."""
    if not charset:
        return None
    name = charset.strip().strip("'\"").lower()
    try:
        return codecs.lookup(_CHARSET_ALIASES.get(name, name)).name.replace("-", "_")
    except (LookupError, UnicodeError, ValueError):  # unknown, or a label with undecodable bytes in it
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str, int]:
    """Decode text of a declared (possibly wrong or missing) charset: ``(text, codec used, bytes replaced)``.

    Order: a UTF-8 BOM; the declared charset; its usual supersets (a ``gb2312`` label on GBK bytes, ``euc-kr`` on
    CP949); UTF-8; then, with nothing declared, charset detection; finally the declared charset (or UTF-8) with
    undecodable bytes replaced by U+FFFD, and the count of replaced characters returned so the caller can record it.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace"), "utf_8_sig", 0
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = data.decode("utf-16", errors="replace")
        return text, "utf_16", text.count("\ufffd")
    codec = codec_name(declared)
    candidates: list[str] = []
    if codec:
        candidates.append(codec)
        candidates.extend(_CHARSET_SUPERSETS.get(codec, ()))
    if "utf_8" not in candidates:
        candidates.append("utf_8")
    for candidate in candidates:
        try:
            return data.decode(candidate), candidate, 0
        except (UnicodeDecodeError, LookupError):
            continue
    if codec is None:
        detected = _detect(data)
        if detected:
            try:
                return data.decode(detected), detected, 0
            except (UnicodeDecodeError, LookupError):
                pass
    fallback = codec or "utf_8"
    text = data.decode(fallback, errors="replace")
    return text, fallback, text.count("\ufffd")


def _detect(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - charset-normalizer is a dependency
        return None
    best = from_bytes(data[:200_000]).best()
    if best is None:
        return None
    return codec_name(best.encoding)


def _sniff_kind(data: bytes, filename: str, content_type: str | None) -> str:
    name = filename.lower()
    ext = name[name.rfind(".") :] if "." in name else ""
    ctype = (content_type or "").split(";")[0].strip().lower()
    head = data[:16]
    if head.startswith(b"%PDF-") or (b"%PDF-" in data[:1024] and ext == ".pdf"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff") or head.startswith(b"GIF8"):
        return "image"
    if (head.startswith(b"RIFF") and data[8:12] == b"WEBP") or head.startswith((b"II*\x00", b"MM\x00*", b"BM")):
        return "image"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            names = set()
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if ext == ".docx" or ctype in _DOCX_TYPES:
            return "docx"
        if ext in {".xlsx", ".xlsm"} or ctype in _XLSX_TYPES:
            return "xlsx"
        return "unsupported"
    if ext == ".pdf" or ctype == "application/pdf":
        return "pdf"
    if ext == ".docx" or ctype in _DOCX_TYPES:
        return "docx"
    if ext in {".xlsx", ".xlsm"} or ctype in _XLSX_TYPES:
        return "xlsx"
    if ext in _IMAGE_EXTENSIONS or ctype.startswith("image/"):
        return "image"
    if ext in _CSV_EXTENSIONS or ctype in _CSV_TYPES:
        return "csv"
    if ext in _TEXT_EXTENSIONS or ctype.startswith("text/"):
        return "text"
    return "unsupported"


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample and not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return bool(sample) and controls / len(sample) > 0.05


def _bound(text: str, max_chars: int) -> tuple[str, bool]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) <= max_chars:
        return text, False
    return text[:max_chars].rstrip() + "\n…", True


def _zip_too_large(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"corrupt file: not a valid zip container ({exc})"
    if total > MAX_UNCOMPRESSED_BYTES:
        return f"too large: {total} bytes uncompressed (limit {MAX_UNCOMPRESSED_BYTES})"
    return None


def _pdf(data: bytes, max_pages: int) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    # pypdf logs every recoverable oddity of a real-world PDF as a warning; the caller only needs the outcome.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            decrypted = reader.decrypt("")
        except Exception as exc:  # missing AES provider, malformed encryption dictionary
            raise _DocumentError(f"encrypted PDF: cannot decrypt ({exc})") from exc
        if not decrypted:
            raise _DocumentError("encrypted PDF: a password is required")
    try:
        count = len(reader.pages)
        texts = [(page.extract_text() or "").strip() for page in reader.pages[:max_pages]]
    except FileNotDecryptedError as exc:
        raise _DocumentError("encrypted PDF: a password is required") from exc
    text = "\n\n".join(t for t in texts if t)
    if count > max_pages:
        text += f"\n[{count - max_pages} more pages not read]"
    return text, count


def _docx(data: bytes) -> str:
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells: list[str] = []
            for cell in row.cells:
                value = cell.text.strip()
                if not cells or cells[-1] != value:  # merged cells repeat their text
                    cells.append(value)
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _xlsx(data: bytes, max_chars: int) -> tuple[str, int]:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        parts: list[str] = []
        size = 0
        for sheet in workbook.worksheets:
            parts.append(f"# {sheet.title}")
            for row in sheet.iter_rows(values_only=True):
                values = ["" if v is None else str(v) for v in row]
                while values and values[-1] == "":
                    values.pop()
                if not values:
                    continue
                line = "\t".join(values)
                parts.append(line)
                size += len(line) + 1
                if size > max_chars:
                    break
            if size > max_chars:
                break
        return "\n".join(parts), len(workbook.sheetnames)
    finally:
        workbook.close()


def _csv(text: str, max_chars: int) -> str:
    sample = text[:20_000]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    lines: list[str] = []
    size = 0
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            if not any(cell.strip() for cell in row):
                continue
            line = "\t".join(cell.strip() for cell in row)
            lines.append(line)
            size += len(line) + 1
            if size > max_chars:
                break
    except csv.Error as exc:
        raise _DocumentError(f"corrupt CSV: {exc}") from exc
    return "\n".join(lines)


class _DocumentError(Exception):
    """A reason to record, raised inside a reader."""


def extract_text(
    data: bytes,
    filename: str,
    content_type: str | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_chars: int = DEFAULT_MAX_TEXT_CHARS,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> ExtractedDocument:
    """The text of one document (PDF, DOCX, XLSX, CSV, plain text); images and other kinds are recorded only.

    Never raises for bad input: encrypted, corrupt and oversized files come back with ``error`` set and no text.
    """
    filename = filename or ""
    if not data:
        return ExtractedDocument(kind="empty", text=None, error="empty file")
    kind = _sniff_kind(data, filename, content_type)
    if len(data) > max_bytes:
        return ExtractedDocument(kind=kind, text=None, error=f"too large: {len(data)} bytes (limit {max_bytes})")
    if kind == "image":
        return ExtractedDocument(kind="image", text=None)
    if kind == "unsupported":
        return ExtractedDocument(kind="unsupported", text=None, error="unsupported file type")
    try:
        if kind == "pdf":
            text, pages = _pdf(data, max_pages)
            bounded, truncated = _bound(text, max_chars)
            error = None if bounded else "no extractable text (scanned or image-only PDF?)"
            return ExtractedDocument("pdf", bounded or None, pages=pages, error=error, truncated=truncated)
        if kind in {"docx", "xlsx"}:
            problem = _zip_too_large(data)
            if problem:
                return ExtractedDocument(kind, None, error=problem)
            if kind == "docx":
                bounded, truncated = _bound(_docx(data), max_chars)
                return ExtractedDocument("docx", bounded, truncated=truncated)
            text, sheets = _xlsx(data, max_chars)
            bounded, truncated = _bound(text, max_chars)
            return ExtractedDocument("xlsx", bounded, pages=sheets, truncated=truncated)
        # csv / text
        if _looks_binary(data):
            return ExtractedDocument(kind, None, error="binary data, not text")
        declared = None
        if content_type and "charset=" in content_type.lower():
            declared = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"')
        decoded, encoding, replaced = decode_bytes(data, declared)
        error = f"{replaced} undecodable characters replaced ({encoding})" if replaced else None
        if kind == "csv":
            decoded = _csv(decoded, max_chars)
        bounded, truncated = _bound(decoded, max_chars)
        return ExtractedDocument(kind, bounded, error=error, encoding=encoding, truncated=truncated)
    except _DocumentError as exc:
        return ExtractedDocument(kind, None, error=str(exc))
    except MemoryError:
        return ExtractedDocument(kind, None, error="too large: out of memory while reading")
    except Exception as exc:  # every parser raises its own zoo of errors on corrupt input; record, never crash
        return ExtractedDocument(kind, None, error=f"corrupt {kind.upper()} file: {type(exc).__name__}: {exc}"[:500])
