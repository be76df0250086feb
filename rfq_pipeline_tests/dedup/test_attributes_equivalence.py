"""``extract`` reads exactly what it read before it was made faster, on a fixed sample of 312 inputs.

The dedup decisions, and the attributes stored under ``ATTRIBUTES_VERSION``, depend on every value ``extract``
returns; a faster extraction must change none of them. ``fixtures/attributes_golden.json`` holds the inputs (corpus
records, the bench workload's reworded and other-buyer variants, unicode, blank and ``None`` fields, numbers with
units in many forms) and what the implementation before the speed-up returned for each (see its ``provenance``).
"""

import json
from pathlib import Path
from typing import Any

from rfq_pipeline.dedup.attributes import ATTRIBUTES_VERSION, RfqAttributes, extract

GOLDEN = json.loads((Path(__file__).parent / "fixtures" / "attributes_golden.json").read_text(encoding="utf-8"))


def _comparable(attributes: RfqAttributes) -> dict[str, Any]:
    """The stored form plus the word sets the pair decision compares, all as JSON gives them back."""
    found = json.loads(json.dumps(attributes.as_dict()))
    found["product_tokens"] = sorted(attributes.product_tokens)
    found["text_tokens"] = sorted(attributes.text_tokens)
    return found


def test_the_golden_sample_is_of_this_attributes_version() -> None:
    assert GOLDEN["version"] == ATTRIBUTES_VERSION
    assert len(GOLDEN["cases"]) >= 300


def test_extract_reads_what_it_read_before() -> None:
    # One test over every case (not one per case): the sample runs in well under a second, pytest's per-test cost
    # would double that. A failure names each differing case and field.
    differences = []
    for i, case in enumerate(GOLDEN["cases"]):
        found = _comparable(extract(**case["inputs"]))
        for key in sorted(found.keys() | case["expected"].keys()):
            if found.get(key) != case["expected"].get(key):
                differences.append(f"case {i} {key}: {found.get(key)!r} != {case['expected'].get(key)!r}")
    assert not differences, "\n".join(differences)
