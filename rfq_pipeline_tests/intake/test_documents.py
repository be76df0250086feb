"""extract_text on real small documents built here: PDF, DOCX, XLSX, CSV, text, images, and broken files."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter

from rfq_pipeline.intake.documents import decode_bytes, extract_text
from rfq_pipeline_tests.intake.make_fixtures import minimal_pdf, small_docx, small_xlsx, tiny_png


def _encrypted_pdf(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf(["Confidential RFQ for toner"]))))
    writer.encrypt(user_password=user_password, owner_password="owner-pass", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_text_and_page_count() -> None:
    doc = extract_text(minimal_pdf(["Request for Quotation", "Argan oil 5000 bottles"]), "rfq.pdf", "application/pdf")
    assert doc.kind == "pdf" and doc.error is None and doc.pages == 1
    assert doc.text is not None and "Argan oil 5000 bottles" in doc.text


def test_pdf_detected_by_content_even_with_a_wrong_name_and_type() -> None:
    doc = extract_text(minimal_pdf(["Mislabelled upload"]), "upload.bin", "application/octet-stream")
    assert doc.kind == "pdf" and "Mislabelled upload" in (doc.text or "")


def test_encrypted_pdf_needing_a_password_is_an_error() -> None:
    doc = extract_text(_encrypted_pdf("secret"), "locked.pdf", "application/pdf")
    assert doc.kind == "pdf" and doc.text is None
    assert doc.error is not None and "encrypted" in doc.error


def test_pdf_encrypted_with_an_empty_user_password_is_read() -> None:
    doc = extract_text(_encrypted_pdf(""), "owner-only.pdf", "application/pdf")
    assert doc.error is None and "Confidential RFQ for toner" in (doc.text or "")


@pytest.mark.parametrize("cut", [10, 100, 300])
def test_corrupt_pdf_is_an_error_not_a_crash(cut: int) -> None:
    doc = extract_text(minimal_pdf(["Truncated"])[:cut], "broken.pdf", "application/pdf")
    assert doc.kind == "pdf" and doc.text is None and doc.error


def test_docx_paragraphs_and_tables() -> None:
    doc = extract_text(small_docx(), "specs.docx", None)
    assert doc.kind == "docx" and doc.error is None
    assert doc.text is not None
    assert "Quantity: 12,000 bottles per quarter" in doc.text
    assert "Packaging | amber glass" in doc.text


def test_xlsx_values_and_sheet_count() -> None:
    doc = extract_text(small_xlsx(), "items.xlsx", None)
    assert doc.kind == "xlsx" and doc.error is None and doc.pages == 2
    assert doc.text is not None
    assert "SS-02\tSunscreen SPF50 50ml\t8000\ttubes" in doc.text
    assert "# Notes\nIncoterm\tFOB Busan" in doc.text


def test_docx_name_on_a_zip_without_a_document_is_an_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a word document")
    doc = extract_text(buffer.getvalue(), "fake.docx", None)
    assert doc.kind == "docx" and doc.text is None and doc.error


def test_truncated_xlsx_is_an_error() -> None:
    data = small_xlsx()
    doc = extract_text(data[: len(data) // 2], "items.xlsx", None)
    assert doc.text is None and doc.error and "corrupt" in doc.error


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"sku,product,qty\nA1,Lip balm,4000\n", "order.csv", "A1\tLip balm\t4000"),
        (b"sku;product;qty\nA1;Lip balm;4000\n", "order.csv", "A1\tLip balm\t4000"),
        (b"sku\tproduct\tqty\nA1\tLip balm\t4000\n", "order.tsv", "A1\tLip balm\t4000"),
        ("제품,수량\n립밤,3000\n".encode("cp949"), "kr.csv", "립밤\t3000"),
        ("品名,数量\nリップ,3000\n".encode("shift_jis"), "jp.csv", "リップ\t3000"),
        (b'"Name, with comma",qty\n"Cream ""deluxe""",5\n', "quoted.csv", 'Cream "deluxe"\t5'),
    ],
)
def test_csv_dialect_and_charset(data: bytes, name: str, expected: str) -> None:
    doc = extract_text(data, name, "text/csv")
    assert doc.kind == "csv" and doc.error is None
    assert expected in (doc.text or "")


def test_plain_text_with_a_declared_charset() -> None:
    doc = extract_text("見積依頼：化粧水".encode("euc-jp"), "note.txt", "text/plain; charset=euc-jp")
    assert doc.kind == "text" and doc.text == "見積依頼：化粧水" and doc.encoding == "euc_jp"


def test_text_with_undecodable_bytes_is_replaced_and_recorded() -> None:
    doc = extract_text(b"need 500 pcs \xff\xfe\xfa of soap", "note.txt", "text/plain; charset=utf-8")
    assert doc.text is not None and "need 500 pcs" in doc.text and "\ufffd" in doc.text
    assert doc.error is not None and "replaced" in doc.error


@pytest.mark.parametrize(
    ("data", "name", "ctype"),
    [
        (tiny_png(), "logo.png", "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "photo.jpg", None),
        (b"GIF89a" + b"\x00" * 20, "anim", None),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "x.webp", "image/webp"),
        (b"II*\x00" + b"\x00" * 20, "scan.tiff", None),
    ],
)
def test_images_are_recorded_without_text(data: bytes, name: str, ctype: str | None) -> None:
    doc = extract_text(data, name, ctype)
    assert doc.kind == "image" and doc.text is None and doc.error is None


def test_binary_garbage_and_unknown_kinds_are_unsupported() -> None:
    garbage = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(32))
    doc = extract_text(garbage, "blob.bin", "application/octet-stream")
    assert doc.kind == "unsupported" and doc.text is None and doc.error == "unsupported file type"
    as_text = extract_text(b"\x00\x01\x02binary" * 20, "claims.txt", "text/plain")
    assert as_text.text is None and as_text.error == "binary data, not text"


def test_empty_and_too_large() -> None:
    assert extract_text(b"", "empty.pdf", "application/pdf").error == "empty file"
    doc = extract_text(b"a,b\n" * 100, "big.csv", "text/csv", max_bytes=50)
    assert doc.kind == "csv" and doc.text is None and doc.error is not None and doc.error.startswith("too large")


def test_text_is_bounded() -> None:
    doc = extract_text(b"word " * 10_000, "long.txt", None, max_chars=1000)
    assert doc.truncated and doc.text is not None and len(doc.text) <= 1002


def test_decode_bytes_fallbacks() -> None:
    assert decode_bytes("喆".encode("gbk"), "gb2312")[:2] == ("喆", "gbk")
    assert decode_bytes("똠방각하".encode("cp949"), "euc-kr")[:2] == ("똠방각하", "cp949")  # 똠 is CP949-only
    assert decode_bytes("naïve".encode(), None)[:2] == ("naïve", "utf_8")
    assert decode_bytes("naïve".encode(), "unknown-charset-x")[0] == "naïve"
    text, _codec, replaced = decode_bytes(b"ok \xff", "utf-8")
    assert text == "ok \ufffd" and replaced == 1
