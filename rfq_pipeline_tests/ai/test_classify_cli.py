"""``rfq-pipeline classify --input IN.jsonl --output OUT.jsonl`` through ``rfq_pipeline.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rfq_pipeline.ai.labels import INDUSTRIES, INTENTS
from rfq_pipeline.cli import main

OUTPUT_KEYS = {"id", "industry", "relevant", "intent", "quality"}

GOOD = [
    {"id": "rfq-1", "title": "Wholesale private label vitamin C face serum 30ml", "country": "UAE"},
    {"id": "rfq-2", "title": "Toyota Land Cruiser 2020 used"},
    {"id": "rfq-3", "title": "20ft container of basmati rice", "description": "1121 sella", "quantity": "25 MT"},
    {"id": "rfq-4", "title": "test"},
    {"id": "rfq-5", "title": "Looking for 500 pcs lipstick", "description": None, "quantity": None, "country": None},
]


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _run(tmp_path: Path, lines: list[str]) -> tuple[int, Path]:
    source = _write_jsonl(tmp_path / "in.jsonl", lines)
    output = tmp_path / "out.jsonl"
    return main(["classify", "--input", str(source), "--output", str(output)]), output


def _assert_output_line(row: dict[str, object]) -> None:
    assert set(row) == OUTPUT_KEYS, row
    assert isinstance(row["relevant"], bool)
    assert row["industry"] in INDUSTRIES
    assert row["intent"] in INTENTS
    assert isinstance(row["quality"], int | float) and 0.0 <= row["quality"] <= 1.0


def test_classify_writes_one_line_per_rfq_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = _run(tmp_path, [json.dumps(r) for r in GOOD])
    assert code == 0
    rows = _read_jsonl(output)
    assert [r["id"] for r in rows] == [r["id"] for r in GOOD]
    for row in rows:
        _assert_output_line(row)
    by_id = {r["id"]: r for r in rows}
    assert (by_id["rfq-1"]["industry"], by_id["rfq-1"]["relevant"]) == ("beauty_personal_care", True)
    assert (by_id["rfq-2"]["industry"], by_id["rfq-2"]["relevant"]) == ("vehicles_transport", False)
    assert by_id["rfq-3"]["industry"] == "food_beverage"
    assert by_id["rfq-4"]["intent"] == "spam_or_junk"
    assert by_id["rfq-3"]["quality"] > by_id["rfq-2"]["quality"]
    err = capsys.readouterr().err
    assert "classified 5 RFQs" in err
    assert "error" not in err
    assert not (tmp_path / "out.jsonl.tmp").exists()


def test_a_malformed_line_is_reported_and_the_good_lines_still_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        json.dumps(GOOD[0]),
        '{"id": "broken", "title": "Lipstick"',  # line 2: not JSON
        json.dumps(GOOD[1]),
        "",  # blank lines are skipped silently
        json.dumps(["not", "an", "object"]),  # line 5
        json.dumps({"title": "no id"}),  # line 6
        json.dumps({"id": "rfq-7", "title": 42}),  # line 7
        json.dumps(GOOD[2]),
    ]
    code, output = _run(tmp_path, lines)
    assert code == 1
    rows = _read_jsonl(output)
    assert [r["id"] for r in rows] == ["rfq-1", "rfq-2", "rfq-3"]
    for row in rows:
        _assert_output_line(row)
    err = capsys.readouterr().err
    assert "classified 3 RFQs" in err
    assert "error: line 2: not JSON" in err
    assert "error: line 5: expected a JSON object" in err
    assert "error: line 6: missing 'id'" in err
    assert "error: line 7: 'title' must be a string" in err
    for good_line in ("line 1", "line 3", "line 4", "line 8"):
        assert good_line not in err


def test_missing_input_file_exits_2_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.jsonl"
    output = tmp_path / "out.jsonl"
    code = main(["classify", "--input", str(missing), "--output", str(output)])
    assert code == 2
    err = capsys.readouterr().err
    assert "No such file or directory" in err
    assert str(missing) in err
    assert "Traceback" not in err
    assert not output.exists()


def test_missing_input_file_leaves_no_partial_output(tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    assert main(["classify", "--input", str(tmp_path / "nowhere.jsonl"), "--output", str(output)]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither out.jsonl nor out.jsonl.tmp


def test_numeric_ids_are_accepted(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 7, "title": "Looking for 500 pcs lipstick"}),
        json.dumps({"id": 0, "title": "Basmati rice 25 kg bags"}),
        json.dumps({"id": 123456789012, "title": "Used excavator"}),
    ]
    code, output = _run(tmp_path, lines)
    assert code == 0
    rows = _read_jsonl(output)
    # ids come back in their text form (the output id is always a string)
    assert [str(r["id"]) for r in rows] == ["7", "0", "123456789012"]
    for row in rows:
        _assert_output_line(row)


def test_empty_input_writes_an_empty_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = _run(tmp_path, ["", "   "])
    assert code == 0
    assert output.read_text(encoding="utf-8") == ""
    assert "classified 0 RFQs" in capsys.readouterr().err


def test_unicode_is_written_as_is(tmp_path: Path) -> None:
    code, output = _run(tmp_path, [json.dumps({"id": "ар-1", "title": "косметика оптом"}, ensure_ascii=False)])
    assert code == 0
    assert '"ар-1"' in output.read_text(encoding="utf-8")
