from rfq_pipeline.sources.quality import lost_field_findings, no_rows_finding

FULL = {"title": 1.0, "country_raw": 0.95, "quantity_text": 0.8, "buyer_company": 0.1}


def test_no_rows_is_flagged_only_against_a_real_baseline() -> None:
    assert no_rows_finding(0, [(12, FULL), (9, FULL), (15, FULL)]) is not None
    assert no_rows_finding(3, [(12, FULL), (9, FULL), (15, FULL)]) is None
    assert no_rows_finding(0, [(12, FULL), (9, FULL)]) is None  # too little history
    assert no_rows_finding(0, [(1, FULL), (0, FULL), (2, FULL)]) is None  # a quiet source


def test_a_lost_field_is_flagged() -> None:
    baseline = [(10, FULL)] * 4
    now = {**FULL, "country_raw": 0.0}
    assert lost_field_findings(20, now, baseline) == ["country_raw filled on 0% of rows, was 95%"]
    assert lost_field_findings(20, FULL, baseline) == []
    assert lost_field_findings(3, now, baseline) == []  # too few rows to judge
    # a field that was rarely filled is not "lost" when it is empty
    assert lost_field_findings(20, {**FULL, "buyer_company": 0.0}, baseline) == []
