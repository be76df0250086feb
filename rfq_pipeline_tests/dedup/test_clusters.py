"""Cluster assignment on the real embedded PostgreSQL + pgvector, with the real static embedder."""

import csv
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from rfq_pipeline.ai.embeddings import embedder_named
from rfq_pipeline.db import repository
from rfq_pipeline.db.database import Database
from rfq_pipeline.dedup import clusters
from rfq_pipeline.dedup.clusters import AssignmentResult, assign_clusters, cluster_invariants, ensure_embeddings

EMBEDDER = embedder_named("minilm-static")
CORPUS = Path(__file__).resolve().parents[2] / "rfq_pipeline" / "devtools" / "corpus"
COCONUT = next(csv.DictReader((CORPUS / "go4w_reposted_lead_2021.csv").open(encoding="utf-8")))["Commodities"]

INSERT_RFQ = """
INSERT INTO rfqs (source, external_id, canonical_url, title, description, quantity_text, buyer_name, country_raw,
                  content_sha256)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'x')
RETURNING id
"""


@pytest.fixture()
def db(clean_db: str) -> Iterator[Database]:
    with Database(clean_db, max_size=4) as database:
        with database.connection() as conn:
            for name in ("go4worldbusiness", "tradekey", "alibaba_rfq", "ec21"):
                repository.upsert_source(
                    conn, name=name, kind="marketplace", base_url="https://x", cadence="1h", enabled=True
                )
        yield database


def add_rfq(
    conn: psycopg.Connection,
    source: str,
    external_id: str,
    title: str,
    *,
    description: str = "",
    quantity: str = "",
    country: str = "",
    buyer: str = "",
    url: str = "",
) -> int:
    row = conn.execute(INSERT_RFQ, (source, external_id, url, title, description, quantity, buyer, country)).fetchone()
    assert row is not None
    ensure_embeddings(conn, EMBEDDER, [int(row[0])])
    return int(row[0])


def assign(db: Database, ids: list[int]) -> AssignmentResult:
    with db.connection() as conn:
        return assign_clusters(conn, ids, model=EMBEDDER.name, min_similarity=0.80, actor="test")


def coconut_repost(conn: psycopg.Connection, n: int, source: str = "go4worldbusiness") -> int:
    return add_rfq(
        conn,
        source,
        f"go4w-{n}",
        "Wanted : Coconut Milk",
        description=COCONUT,
        quantity="1 Forty-Foot Container",
        country="United States",
        buyer="United",
    )


def state(db: Database) -> tuple[list, list, list]:
    with db.connection() as conn:
        return (
            conn.execute(
                "SELECT id, canonical_rfq_id, member_count, merged_into, updated_at FROM dedup_clusters ORDER BY id"
            ).fetchall(),
            conn.execute(
                "SELECT rfq_id, cluster_id, matched_by, similarity, added_at FROM dedup_cluster_members ORDER BY rfq_id"
            ).fetchall(),
            conn.execute(
                "SELECT from_cluster_id, into_cluster_id, moved_rfq_ids FROM dedup_cluster_merges ORDER BY id"
            ).fetchall(),
        )


def assert_invariants(db: Database) -> dict[str, int]:
    with db.connection() as conn:
        inv = cluster_invariants(conn)
    bad = {k: v for k, v in inv.items() if k not in ("active_clusters", "merged_clusters") and v}
    assert not bad, inv
    return inv


def test_reposts_join_one_cluster_and_a_rerun_changes_nothing(db: Database) -> None:
    with db.connection() as conn:
        ids = [coconut_repost(conn, n) for n in range(4)]
    first = assign(db, ids[:2])
    assert (first.new_clusters, first.joined) == (1, 1)
    second = assign(db, ids)  # two already assigned, two new reposts
    assert (second.already_assigned, second.new_clusters, second.joined) == (2, 0, 2)
    clusters_rows, members, _ = state(db)
    assert len(clusters_rows) == 1 and clusters_rows[0][1] == ids[0] and clusters_rows[0][2] == 4
    assert [m[2] for m in members] == ["new", "content_hash", "content_hash", "content_hash"]
    before = state(db)
    again = assign(db, ids)
    assert (again.already_assigned, again.new_clusters, again.joined, again.merged) == (4, 0, 0, 0)
    assert state(db) == before  # not even updated_at moves
    assert_invariants(db)


def test_cross_marketplace_copy_joins_as_a_near_duplicate(db: Database) -> None:
    with db.connection() as conn:
        go4w = coconut_repost(conn, 1)
        # The same lead on another board: its own title, the text without line breaks, the quantity spelled its way.
        tradekey = add_rfq(
            conn,
            "tradekey",
            "1408872",
            "Coconut Milk 17% Fat 400ml Cans",
            description=" ".join(COCONUT.split()),
            quantity="1 x 40' FCL",
            country="USA",
            url="https://importer.tradekey.com/buyoffer/Coconut-Milk-17-Fat-400ml-Cans-1408872.html",
        )
        other = add_rfq(
            conn,
            "tradekey",
            "1408873",
            "Coconut Oil Drums",
            description="Refined coconut oil, 200 litre drums, CIF Lagos.",
            quantity="20 Metric Tons",
            country="Nigeria",
        )
    result = assign(db, [go4w, tradekey, other])
    assert result.new_clusters == 2
    by_id = {a.rfq_id: a for a in result.assignments}
    assert by_id[tradekey].matched_by == "near_duplicate" and by_id[tradekey].cluster_id == by_id[go4w].cluster_id
    assert by_id[tradekey].similarity is not None and by_id[tradekey].similarity >= 0.8
    assert by_id[tradekey].matched_rfq_id == go4w
    assert by_id[other].cluster_id != by_id[go4w].cluster_id
    with db.connection() as conn:
        evidence = conn.execute("SELECT evidence FROM dedup_cluster_members WHERE rfq_id = %s", (tradekey,)).fetchone()
    assert evidence is not None and evidence[0]["checks"]["quantity"] == "same"
    assert evidence[0]["attributes"]["quantity"] == [{"value": 1.0, "unit": "container_40"}]


def test_same_request_from_a_different_buyer_stays_apart(db: Database) -> None:
    # Two real Alibaba rows: the same title and quantity from two buyers.
    title = "Pristine clean for 2022 Mer-cedess-Benz S500"
    with db.connection() as conn:
        a = add_rfq(
            conn,
            "alibaba_rfq",
            "1681180733",
            title,
            quantity="1 Unit/Units",
            country="United Arab Emirates",
            buyer="Buyer-561bc8ba",
        )
        b = add_rfq(
            conn,
            "alibaba_rfq",
            "1681201066",
            title,
            quantity="1 Unit/Units",
            country="United Arab Emirates",
            buyer="Buyer-e05197a8",
        )
        # The same text from no known buyer may join one of them, but must not bridge the two into one cluster.
        c = add_rfq(conn, "ec21", "9001", title, quantity="1 Unit/Units", country="United Arab Emirates")
    result = assign(db, [a, b, c])
    by_id = {x.rfq_id: x for x in result.assignments}
    assert by_id[a].cluster_id != by_id[b].cluster_id
    assert result.merged == 0
    assert by_id[c].cluster_id in {by_id[a].cluster_id, by_id[b].cluster_id}
    assert_invariants(db)


def test_a_bridging_rfq_merges_into_the_older_cluster_and_keeps_history(db: Database) -> None:
    url = "https://importer.tradekey.com/buyoffer/Coconut-Milk-Cans-1400001.html"
    with db.connection() as conn:
        older = coconut_repost(conn, 1)
        also_older = coconut_repost(conn, 2)
        # The listing as first crawled: a bare title, nothing to confirm it is the go4w lead.
        listing = add_rfq(conn, "tradekey", "1400001", "Coconut Milk Cans", url=url)
    first = assign(db, [older, also_older, listing])
    assert first.new_clusters == 2
    target = first.assignments[0].cluster_id
    absorbed = first.assignments[2].cluster_id
    assert absorbed > target
    with db.connection() as conn:
        # A mirror of the listing (same URL) carrying the go4w text: it matches both clusters.
        bridge = add_rfq(
            conn,
            "ec21",
            "m-1400001",
            "Wanted : Coconut Milk",
            description=COCONUT,
            quantity="1 Forty-Foot Container",
            country="United States",
            buyer="United",
            url=url,
        )
    second = assign(db, [bridge])
    assert second.merged == 1
    assert second.assignments[0].cluster_id == target and second.assignments[0].merged_clusters == (absorbed,)
    clusters_rows, members, merges = state(db)
    rows = {r[0]: r for r in clusters_rows}
    assert rows[target][1] == older and rows[target][2] == 4 and rows[target][3] is None  # canonical kept
    assert rows[absorbed][2] == 0 and rows[absorbed][3] == target  # the old id still resolves
    assert {m[0]: m[1] for m in members} == dict.fromkeys([older, also_older, listing, bridge], target)
    assert merges == [(absorbed, target, [listing])]
    with db.connection() as conn:
        log = conn.execute("SELECT trigger_rfq_id, matched_by, merged_by FROM dedup_cluster_merges").fetchone()
    assert log == (bridge, "canonical_url", "test")
    assert_invariants(db)
    assert assign(db, [older, also_older, listing, bridge]).already_assigned == 4


def _writer(db: Database, n: int, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        with db.connection() as conn:
            rfq_id = coconut_repost(conn, n)
            barrier.wait(timeout=10)
            assign_clusters(conn, [rfq_id], model=EMBEDDER.name, min_similarity=0.8, actor=f"writer-{n}")
    except BaseException as exc:  # surfaced by the test thread
        errors.append(exc)


def _race(db: Database) -> int:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_writer, args=(db, n, barrier, errors)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    with db.connection() as conn:
        row = conn.execute("SELECT count(*) FROM dedup_clusters WHERE merged_into IS NULL").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture()
def slow_assignment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Widen the window between "no cluster found" and "cluster created" so an unprotected race always loses.
    monkeypatch.setattr(clusters, "_after_candidate_search", lambda _rfq_id: time.sleep(0.3))


def test_two_concurrent_writers_of_one_request_make_one_cluster(db: Database, slow_assignment: None) -> None:
    assert _race(db) == 1
    _, members, _ = state(db)
    assert sorted(m[2] for m in members) == ["content_hash", "new"]
    assert_invariants(db)


def test_without_the_lock_the_race_makes_two_clusters(
    db: Database, slow_assignment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control for the test above: it would catch a missing lock.
    monkeypatch.setattr(clusters, "_acquire_lock", lambda _conn: None)
    assert _race(db) == 2


def test_rfqs_without_an_embedding_still_match_on_exact_keys(db: Database) -> None:
    with db.connection() as conn:
        ids = [
            int(conn.execute(INSERT_RFQ, ("tradekey", f"{n}", "", "Buy Waste Paper", "", "", "", "")).fetchone()[0])
            for n in (1, 2)
        ]
    result = assign(db, ids)
    assert result.without_embedding == 2 and result.new_clusters == 1
    assert result.assignments[1].matched_by == "content_hash"


def test_assignment_refuses_autocommit(clean_db: str) -> None:
    with psycopg.connect(clean_db, autocommit=True) as conn, pytest.raises(ValueError, match="transaction"):
        assign_clusters(conn, [1], model=EMBEDDER.name, min_similarity=0.8)


def _serum(conn: psycopg.Connection, external_id: str, source: str, title: str, description: str) -> int:
    return add_rfq(conn, source, external_id, title, description=description, quantity="5000 pcs", country="UAE")


def test_a_changed_text_that_contradicts_the_cluster_is_split_out_with_history(db: Database) -> None:
    with db.connection() as conn:
        first = _serum(
            conn,
            "a1",
            "alibaba_rfq",
            "Retinol Night Cream 50g Jar Private Label",
            "Retinol 0.5% night cream, 50 g jar, private label. Contact-4be1d2a9",
        )
        second = _serum(
            conn,
            "g1",
            "go4worldbusiness",
            "Wanted : Retinol Night Cream",
            "Product Name : Retinol Night Cream\nSize : 50 gm Jar\nContact : Contact-4be1d2a9",
        )
    result = assign(db, [first, second])
    assert result.new_clusters == 1 and result.joined == 1
    with db.connection() as conn:
        cluster_id = conn.execute(
            "SELECT cluster_id FROM dedup_cluster_members WHERE rfq_id = %s", (first,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO buyers (cluster_id, rfq_id, company, risk_score, risk_level, method, enricher_version)"
            " VALUES (%s, %s, 'Al Noor Khaleej', 10, 'low', 'deterministic', 't')",
            (cluster_id, first),
        )
        for rfq_id in (first, second):
            conn.execute(
                "INSERT INTO classifications (rfq_id, model_version, provider, industry, relevant, intent, quality)"
                " VALUES (%s, 't', 'local', 'beauty_personal_care', true, 'buy_request', 0.9)",
                (rfq_id,),
            )
        # The go4world lead is edited: now a 100 g jar. Same buyer, same product, another size: another request.
        conn.execute(
            "UPDATE rfqs SET description = %s WHERE id = %s",
            ("Product Name : Retinol Night Cream\nSize : 100 gm Jar\nContact : Contact-4be1d2a9", second),
        )
    again = assign(db, [first, second])
    assert again.split == 1 and again.new_clusters == 1
    assert_invariants(db)
    with db.connection() as conn:
        new_cluster = conn.execute(
            "SELECT cluster_id FROM dedup_cluster_members WHERE rfq_id = %s", (second,)
        ).fetchone()[0]
        assert new_cluster != cluster_id
        split = conn.execute(
            "SELECT from_cluster_id, into_cluster_id, rfq_ids, reason FROM dedup_cluster_splits"
        ).fetchone()
        assert split[:3] == (cluster_id, new_cluster, [second]) and "different mass_g" in split[3]
        assert (
            conn.execute("SELECT split_from FROM dedup_clusters WHERE id = %s", (new_cluster,)).fetchone()[0]
            == cluster_id
        )
        history = conn.execute(
            "SELECT cluster_id, event FROM dedup_membership_history WHERE rfq_id = %s ORDER BY id", (second,)
        ).fetchall()
        assert history == [(cluster_id, "joined"), (cluster_id, "split_out"), (new_cluster, "founded")]
        # The buyer of the cluster it left is the same buyer: enrichment does not research it again.
        from datetime import UTC, datetime

        from rfq_pipeline.enrich.store import SELECT_CLUSTERS_TO_ENRICH

        window = {"start": datetime(2000, 1, 1, tzinfo=UTC), "end": datetime(2100, 1, 1, tzinfo=UTC)}
        assert conn.execute(SELECT_CLUSTERS_TO_ENRICH, window).fetchall() == []
    # Nothing changed since: a rerun neither splits nor moves anything.
    assert assign(db, [first, second]).split == 0


def test_a_changed_text_that_still_fits_keeps_its_cluster(db: Database) -> None:
    with db.connection() as conn:
        first = _serum(
            conn,
            "a2",
            "alibaba_rfq",
            "Retinol Night Cream 50g Jar Private Label",
            "Retinol 0.5% night cream, 50 g jar, private label. Contact-4be1d2a9",
        )
        second = _serum(
            conn,
            "g2",
            "go4worldbusiness",
            "Wanted : Retinol Night Cream",
            "Product Name : Retinol Night Cream\nSize : 50 gm Jar\nContact : Contact-4be1d2a9",
        )
    assign(db, [first, second])
    with db.connection() as conn:
        conn.execute("UPDATE rfqs SET description = description || %s WHERE id = %s", ("\nPayment : T/T", second))
    assert assign(db, [first, second]).split == 0
    with db.connection() as conn:
        events = [
            r[0]
            for r in conn.execute("SELECT event FROM dedup_membership_history WHERE rfq_id = %s ORDER BY id", (second,))
        ]
        attributes = conn.execute(
            "SELECT attributes FROM rfq_dedup_attributes WHERE rfq_id = %s", (second,)
        ).fetchone()[0]
    assert events == ["joined", "kept"]
    assert attributes["specs"]["mass_g"] == ["50"] and attributes["buyer"]["pseudonyms"] == ["4be1d2a9"]
