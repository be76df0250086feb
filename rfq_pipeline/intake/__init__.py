"""Intake of RFQs that arrive as e-mail (SES inbound) and uploaded documents: pure parsing, no Dagster, no AWS.

- :func:`parse_email` reads a raw message into a :class:`ParsedEmail` (new text without quoted history or
  signature, thread keys, attachments with their extracted text).
- :func:`extract_text` reads one document (PDF, DOCX, XLSX, CSV, text; images recorded without OCR).
- :func:`rfq_from_email` maps a parsed message to the classifier's :class:`~rfq_pipeline.ai.labels.RfqText`.
"""

from rfq_pipeline.intake.documents import ExtractedDocument, extract_text
from rfq_pipeline.intake.email_rfq import rfq_from_email, to_json
from rfq_pipeline.intake.mime import Attachment, ParsedEmail, clean_subject, parse_email, thread_subject_key

__all__ = [
    "Attachment",
    "ExtractedDocument",
    "ParsedEmail",
    "clean_subject",
    "extract_text",
    "parse_email",
    "rfq_from_email",
    "thread_subject_key",
    "to_json",
]
