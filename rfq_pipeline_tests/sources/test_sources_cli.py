"""``rfq-pipeline sources parse`` and ``sources probe`` through the installed entry point, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rfq_pipeline.devtools.simulator import faults
from rfq_pipeline.settings import Settings
from rfq_pipeline.sources.registry import SOURCES

CLI = str(Path(sys.executable).with_name("rfq-pipeline"))
FIXTURES = Path(__file__).parent / "fixtures"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=300)


def test_parse_prints_every_lead_of_a_served_page() -> None:
    page = FIXTURES / "ec21" / "importer.ec21.com_tea_page1.excerpt.html"
    done = _cli("sources", "parse", "ec21", str(page), "--fetched-at", "2026-08-27T20:49:40Z")
    assert done.returncode == 0, done.stderr
    leads = [json.loads(line) for line in done.stdout.splitlines()]
    expected = json.loads(page.with_name("importer.ec21.com_tea_page1.expected.json").read_text(encoding="utf-8"))
    assert [lead["url"] for lead in leads] == [lead["url"] for lead in expected]
    first = leads[0]
    assert set(first) == {
        "title", "url", "posted_at", "country_code", "country", "quantity", "buyer", "description", "extraction"
    }  # fmt: skip
    assert first["posted_at"] == "2026-04-25T00:00:00Z" and first["country_code"] == "KR"
    assert first["extraction"] == "selectors"


def test_parse_says_why_a_page_cannot_be_read(tmp_path: Path) -> None:
    page = (FIXTURES / "ec21" / "importer.ec21.com_tea_page1.excerpt.html").read_text(encoding="utf-8")
    cut = tmp_path / "cut.html"
    cut.write_text(page[: len(page) // 2], encoding="utf-8")
    done = _cli("sources", "parse", "ec21", str(cut))
    assert done.returncode == 1 and "truncated" in done.stderr and done.stdout == ""
    challenge = tmp_path / "challenge.html"
    challenge.write_bytes(faults.cloudflare_challenge("/tea.html").body)
    done = _cli("sources", "parse", "ec21", str(challenge))
    assert done.returncode == 1 and "challenge" in done.stderr
    binary = tmp_path / "page.html"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    done = _cli("sources", "parse", "ec21", str(binary))
    assert done.returncode == 1 and "unreadable" in done.stderr
    done = _cli("sources", "parse", "no_such_source", str(binary))
    assert done.returncode == 2 and "unknown source" in done.stderr


def test_parse_after_a_redesign_uses_the_fallback_and_says_so(tmp_path: Path) -> None:
    page = (FIXTURES / "tradekey" / "www.tradekey.com_tea-buyer_page1.excerpt.html").read_text(encoding="utf-8")
    redesigned = tmp_path / "redesigned.html"
    redesigned.write_text(faults.redesigned(page), encoding="utf-8")
    done = _cli("sources", "parse", "tradekey", str(redesigned))
    assert done.returncode == 0, done.stderr
    leads = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(leads) == 6 and {lead["extraction"] for lead in leads} == {"fallback"}
    assert all(lead["title"] and lead["url"].startswith("https://importer.tradekey.com/buyoffer/") for lead in leads)
    assert "fallback extractor" in done.stderr


def test_probe_reads_page_one_of_each_listing_and_keeps_the_page(
    pipeline_env: Settings, simulator, tmp_path: Path
) -> None:
    before = len(simulator.request_log)
    done = _cli("sources", "probe", "ec21", "--json", "--save", str(tmp_path))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["listing"] for r in results] == list(SOURCES["ec21"].listings)
    for result in results:
        assert result["status"] == "ok" and result["http_status"] == 200 and result["leads"] > 0
        assert result["extraction"] == "selectors" and result["blocked"] == "" and result["newest_day"]
        saved = Path(result["saved_to"])
        provenance = json.loads(saved.with_suffix(".provenance.json").read_text(encoding="utf-8"))
        assert provenance["url"] == result["url"] and provenance["sha256"] and saved.read_bytes().endswith(b"</html>\n")
    # Every request went through the polite layer: robots.txt first, then one page per listing.
    paths = [entry.path for entry in simulator.request_log[before:] if entry.source == "ec21"]
    assert paths[0] == "/ec21/robots.txt" and len(paths) == len(results) + 1


def test_probe_reports_a_challenge_as_a_block(pipeline_env: Settings, simulator) -> None:
    simulator.set_fault("tradekey", "challenge_cloudflare", times=1)
    done = _cli("sources", "probe", "tradekey", "globalsources")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "challenge" in lines[0] and "blocked=" in lines[0] and "blocked=-" not in lines[0]
    off = next(line for line in lines if line.startswith("globalsources"))
    assert " off " in off and "not crawled" in off
