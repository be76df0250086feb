"""``make bench`` (dedup): the ANN lookup (HNSW latency, recall@10 vs an exact scan) and the decision's throughput.

Runs on a temporary database of the configured server (the embedded one by default) with ``n`` stored vectors of
the default 384-dimensional static embedder. The vectors are synthetic but shaped like real RFQs: the real corpus
texts (2,000 Alibaba requests, 1,200 TradeKey titles, the go4WorldBusiness records) are embedded, and each stored
vector is either a random perturbation of one real embedding (a repost or re-wording: cosine ~0.9 to its source) or
a blend of two real embeddings plus noise (a request between two known ones), normalized. Queries are fresh
perturbations of real embeddings, so each has close neighbours, as a new repost does.

Loading is the pipeline's bulk path (``embedding_store.load_embeddings``): binary COPY and the merge with the model's
partial HNSW index dropped, then the index built again exactly as migration 003 defines it (``maintenance_work_mem``
and parallel workers raised), in one transaction. The load alone is the anchor of the load-and-build rate; the exact
scan of the same queries is the anchor of the latency and of recall@k. ``--ef-search`` sets the lookups' search width
(default: ``embedding_store.DEFAULT_EF_SEARCH``); ``--ann-n 1000000`` runs the same at a million vectors.

Then the throughput of the whole dedup decision (``bench_throughput``), on another temporary database: a store of
``--stored`` RFQs (20,000; the real corpus records, Alibaba rows, go4WorldBusiness records, TradeKey titles and the
labeled dedup development records, then reposts, re-wordings and other buyers' requests of them) is inserted,
embedded and clustered through ``assign_clusters`` in batches; then a fresh batch (2,000: reposts and re-wordings of
stored RFQs, the same product for other buyers, held-out real records) is placed through ``assign_clusters`` and
timed, candidate queries included. Attribute extraction and ``decide_pair`` are also timed alone (pure Python), and
the ratio of the whole decision to the extraction rate shows where the time goes.

``python -m rfq_pipeline.devtools.bench_dedup [--ann-n N] [--ef-search N] [--stored N] [--fresh N] [--batch-size N]
[--profile TOP] [--skip-ann | --skip-throughput] [--json]`` (``--help`` lists every size).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import dataclasses
import hashlib
import inspect
import json
import pstats
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

CORPUS = Path(__file__).resolve().parent / "corpus"
BENCH_SOURCE = "bench_dedup"

INSERT_RFQS = """
INSERT INTO rfqs (source, external_id, canonical_url, title, content_sha256)
SELECT %(source)s, g::text, '', 'bench ' || g, 'x' FROM generate_series(1, %(n)s) AS g
RETURNING id
"""

EXACT = """
SELECT e.rfq_id
FROM rfq_embeddings e
WHERE e.model = %(model)s
ORDER BY e.embedding::halfvec(384) <=> %(query)s::halfvec(384)
LIMIT %(k)s
"""


def corpus_texts() -> list[str]:
    """Real RFQ texts from the package's corpus (titles, and descriptions where the source has them)."""
    texts: list[str] = []
    with (CORPUS / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8", newline="") as handle:
        texts += [row["Title"] for row in csv.DictReader(handle)]
    from rfq_pipeline.devtools.simulator.sites.tradekey import corpus_urls, title_from_slug

    texts += [title_from_slug(slug) for _line, slug, _id in corpus_urls()]
    with (CORPUS / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = " ".join(str(record.get(k) or "") for k in ("buyerProductName", "buyerText")).strip()
            if text:
                texts.append(text)
    return texts


def synthetic_vectors(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors around the real embeddings ``base``: half perturbations, half noisy blends of two."""
    dims = base.shape[1]
    picks = rng.integers(0, len(base), size=n)
    out = base[picks].copy()
    blend = rng.random(n) < 0.5
    partners = base[rng.integers(0, len(base), size=int(blend.sum()))]
    alpha = rng.uniform(0.2, 0.8, size=(int(blend.sum()), 1)).astype(np.float32)
    out[blend] = alpha * out[blend] + (1 - alpha) * partners
    # Per-dimension sigma 0.015-0.035: a noise norm of 0.3-0.7 against unit vectors, cosine ~0.8-0.95 to the source.
    sigma = rng.uniform(0.015, 0.035, size=(n, 1)).astype(np.float32)
    out += rng.standard_normal((n, dims), dtype=np.float32) * sigma
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def _percentile_ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000.0, q)), 3)


def bench_dedup(
    n: int = 100_000, *, queries: int = 200, k: int = 10, ef_search: int | None = None, seed: int = 0
) -> dict[str, Any]:
    """Measure the bulk load of ``n`` vectors (COPY and merge, then the HNSW build) and HNSW lookups over them: p50/p99
    latency (ms) and recall@k against an exact scan of the same query, timed in the same run."""
    import psycopg
    from pgvector import HalfVector
    from pgvector.psycopg import register_vector

    from rfq_pipeline.ai.embedding_store import DEFAULT_EF_SEARCH, load_embeddings, nearest, vector_index_name
    from rfq_pipeline.ai.embeddings import embedder_named
    from rfq_pipeline.db import repository
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.settings import Settings

    started = time.perf_counter()
    ef_search = DEFAULT_EF_SEARCH if ef_search is None else ef_search
    settings = Settings.from_env()
    embedder = embedder_named("minilm-static")
    rng = np.random.default_rng(seed)
    base = embedder.embed(corpus_texts())
    stored = synthetic_vectors(base, n, rng)
    probe = synthetic_vectors(base, queries, rng)
    index = vector_index_name(embedder.name)
    report: dict[str, Any] = {"n": n, "dims": embedder.dims, "model": embedder.name, "k": k, "ef_search": ef_search}
    report["base_texts"] = len(base)

    with temporary_database(settings, prefix="rfq_bench") as url, psycopg.connect(url) as conn:
        register_vector(conn)
        # pgvector says so when the graph outgrows maintenance_work_mem (the build then slows down many times)
        conn.add_notice_handler(lambda notice: print(f"dedup ANN: server notice: {notice.message_primary}"))
        repository.upsert_source(
            conn, name=BENCH_SOURCE, kind="loader", base_url="file:", cadence="manual", enabled=True
        )
        ids = [int(r[0]) for r in conn.execute(INSERT_RFQS, {"source": BENCH_SOURCE, "n": n}).fetchall()]
        conn.commit()

        # The pipeline's bulk path: COPY into staging and merge with the model's index dropped, then the index built
        # once (the same transaction). Its load phase is the anchor: the same rows without any HNSW index.
        t0 = time.perf_counter()
        load = load_embeddings(conn, embedder.name, ids, stored, [f"{i:064x}" for i in ids])
        conn.commit()
        report["bulk_seconds"] = round(time.perf_counter() - t0, 2)
        report["load_seconds"] = round(load.load_seconds, 2)
        report["index_build_seconds"] = round(load.index_seconds, 2)
        report["index_rebuilt"] = load.rebuilt_index == index
        conn.execute("ANALYZE rfq_embeddings")
        conn.commit()

        params = {"model": embedder.name, "k": k, "query": HalfVector(probe[0].astype(np.float16))}
        with conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")  # the planner costs the scan by it
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + EXACT, params).fetchall())
        report["ann_uses_hnsw_index"] = index in plan
        conn.commit()

        for q in probe[:10]:  # warm the index pages into shared buffers
            nearest(conn, embedder.name, q, k, ef_search)
        ann_latency: list[float] = []
        ann_results: list[list[int]] = []
        for q in probe:
            t = time.perf_counter()
            found = nearest(conn, embedder.name, q, k, ef_search)
            ann_latency.append(time.perf_counter() - t)
            ann_results.append([rfq_id for rfq_id, _sim in found])
        conn.commit()

        exact_latency: list[float] = []
        exact_results: list[list[int]] = []
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")  # the same query, answered by a full scan: exact
            for q in probe:
                t = time.perf_counter()
                rows = conn.execute(EXACT, {"model": embedder.name, "k": k, "query": HalfVector(q.astype(np.float16))})
                exact_results.append([int(r[0]) for r in rows.fetchall()])
                exact_latency.append(time.perf_counter() - t)

    recalls = [len(set(a) & set(e)) / len(e) for a, e in zip(ann_results, exact_results, strict=True) if e]
    report |= {
        "queries": queries,
        "ann_p50_ms": _percentile_ms(ann_latency, 50),
        "ann_p99_ms": _percentile_ms(ann_latency, 99),
        "exact_p50_ms": _percentile_ms(exact_latency, 50),
        "exact_p99_ms": _percentile_ms(exact_latency, 99),
        f"recall_at_{k}": round(float(np.mean(recalls)), 4),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    return report


# ------------------------------------------------------------------------------------- throughput of the decision

# Site boilerplate a repost's title gains or loses ("Wanted : x" on go4WorldBusiness, "[Buying] x" on Global Sources).
_REPOST_PREFIXES = ("", "", "Wanted : ", "[Buying] ", "Buying Request: ", "Looking for ", "RFQ - ", "Need ")
_REPOST_TAILS = ("", "", "\nPlease quote your best price.", "\nUrgent requirement.", "\nCIF price please.")
_NUMBER_IN_TEXT = re.compile(r"\d+(?:[.,]\d+)?")

COPY_RFQS = (
    "COPY rfqs (source, external_id, canonical_url, title, description, posted_at, quantity_text, buyer_name, "
    "country_raw, content_sha256) FROM STDIN"
)


@dataclass(frozen=True)
class Request:
    """One RFQ's fields as the dedup CLI stores them (``buyer`` goes to ``buyer_name``)."""

    source: str
    title: str
    description: str = ""
    quantity: str = ""
    country: str = ""
    buyer: str = ""

    def attribute_inputs(self) -> dict[str, str]:
        """What :func:`rfq_pipeline.dedup.attributes.extract` reads of it (as the store path builds it)."""
        return {
            "title": self.title,
            "description": self.description,
            "quantity": self.quantity,
            "country": self.country,
            "buyer": self.buyer,
        }


def corpus_requests() -> list[Request]:
    """Every real RFQ of the package's corpus with its fields: Alibaba rows, go4WorldBusiness records, TradeKey
    titles and the labeled dedup development records."""
    from rfq_pipeline.devtools.simulator.sites.tradekey import corpus_urls, title_from_slug

    requests: list[Request] = []
    with (CORPUS / "alibaba_rfq_uae_2025-07.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            requests.append(
                Request(
                    "alibaba_rfq",
                    row["Title"],
                    quantity=row["Quantity Required"],
                    country=row["Country"],
                    buyer=row["Buyer Name"],
                )
            )
    requests += [Request("tradekey", title_from_slug(slug)) for _line, slug, _id in corpus_urls()]
    with (CORPUS / "go4w_buyers_2019.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = str(record.get("buyerText") or "").strip()
            title = str(record.get("buyerProductName") or "").strip() or text.split("\n", 1)[0][:120]
            if title:
                country = str(record.get("buyerCountry") or "").split(",")[0].strip()
                buyer = str(record.get("buyerCompanyName") or "")
                requests.append(Request("go4worldbusiness", title, text, country=country, buyer=buyer))
    labels = Path(__file__).resolve().parent.parent / "dedup" / "labels" / "records.jsonl"
    with labels.open(encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            requests.append(Request(r["source"], r["title"], r["description"], r["quantity"], r["country"], r["buyer"]))
    return requests


def _reworded(request: Request, rng: random.Random) -> Request:
    """The same request written again: boilerplate added or dropped, a word dropped or swapped, a closing line."""
    words = request.title.split()
    if len(words) > 4:
        droppable = [i for i, w in enumerate(words) if not any(ch.isdigit() for ch in w)]
        if droppable:
            del words[rng.choice(droppable)]
        if rng.random() < 0.5:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
    title = rng.choice(_REPOST_PREFIXES) + " ".join(words)
    if rng.random() < 0.3:
        title = title.lower()
    return replace(request, title=title, description=request.description + rng.choice(_REPOST_TAILS))


def _other_buyer(request: Request, rng: random.Random) -> Request:
    """The same product asked for by another buyer, in another amount: a separate request (a hard negative)."""
    factor = rng.choice((3, 5, 10, 20))
    quantity = _NUMBER_IN_TEXT.sub(lambda m: str(int(float(m.group(0).replace(",", "")) * factor)), request.quantity)
    return replace(request, buyer=f"Buyer-{rng.getrandbits(32):08x}", quantity=quantity or f"{factor * 100} pieces")


def _variant(request: Request, kind: str, rng: random.Random) -> Request:
    if kind == "repost":
        return request
    if kind == "reword":
        return _reworded(request, rng)
    return _other_buyer(request, rng)


def throughput_workload(stored: int, seed: int = 0) -> tuple[list[Request], list[Request], random.Random]:
    """``stored`` RFQs for the store, the real records held out of it, and the generator that made them.

    A tenth of the real records is held out of the store. The store holds the other real records and, past them,
    variants of them (reposts, re-wordings, the same product for another buyer), as a marketplace's history does.
    """
    rng = random.Random(seed)
    real = corpus_requests()
    rng.shuffle(real)
    held_out, pool = real[: len(real) // 10], real[len(real) // 10 :]
    base = pool[:stored]
    while len(base) < stored:
        kind = rng.choices(("repost", "reword", "other_buyer"), weights=(2, 3, 5))[0]
        base.append(_variant(rng.choice(pool), kind, rng))
    return base, held_out, rng


def fresh_requests(
    stored: Sequence[Request], held_out: Sequence[Request], n: int, rng: random.Random, *, offset: int = 0
) -> list[tuple[str, Request]]:
    """``n`` new RFQs as ``(kind, request)``, a quarter each: exact reposts and re-wordings of ``stored`` ones (they
    should join), the same product for another buyer (a hard negative), held-out real records (new requests)."""
    batch: list[tuple[str, Request]] = []
    for i in range(offset, offset + n):
        kind = ("repost", "reword", "other_buyer", "new")[i % 4]
        if kind == "new":
            j = i // 4
            request = held_out[j] if j < len(held_out) else _other_buyer(rng.choice(held_out), rng)
        else:
            request = _variant(rng.choice(stored), kind, rng)
        batch.append((kind, request))
    return batch


def _insert_requests(conn: Any, requests: Sequence[Request], prefix: str, start: datetime) -> list[int]:
    """COPY the requests into ``rfqs`` (one minute apart from ``start``); their ids in input order."""
    with conn.cursor() as cur:
        with cur.copy(COPY_RFQS) as copy:
            for i, r in enumerate(requests):
                fields = [r.source, r.title, r.description, r.quantity, r.buyer, r.country]
                digest = hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()
                posted = start + timedelta(minutes=i)
                copy.write_row(
                    (
                        r.source,
                        f"{prefix}{i}",
                        "",
                        r.title,
                        r.description,
                        posted,
                        r.quantity,
                        r.buyer,
                        r.country,
                        digest,
                    )
                )
        rows = cur.execute("SELECT id, external_id FROM rfqs WHERE external_id LIKE %s", (f"{prefix}%",)).fetchall()
    by_external = {external: int(rfq_id) for rfq_id, external in rows}
    return [by_external[f"{prefix}{i}"] for i in range(len(requests))]


def _chunks(ids: Sequence[int], size: int) -> list[Sequence[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


class _CallCounter:
    """Counts calls of module-level functions while active (the store path's extractions and pair decisions) and
    keeps the arguments of the first ``keep`` calls of each, to replay them alone."""

    def __init__(self, targets: dict[str, tuple[Any, str]], keep: int = 0) -> None:
        self.targets = targets
        self.keep = keep
        self.counts: Counter[str] = Counter()
        self.calls: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {label: [] for label in targets}
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> _CallCounter:
        for label, (module, name) in self.targets.items():
            original = getattr(module, name)
            self._saved[label] = original

            def counted(*args: Any, _f: Any = original, _label: str = label, **kwargs: Any) -> Any:
                self.counts[_label] += 1
                if len(self.calls[_label]) < self.keep:
                    self.calls[_label].append((args, kwargs))
                return _f(*args, **kwargs)

            setattr(module, name, counted)
        return self

    def __exit__(self, *_exc: object) -> None:
        for label, (module, name) in self.targets.items():
            setattr(module, name, self._saved[label])


def _hotspots(profile: cProfile.Profile, top: int, *, own_time: bool = False) -> list[str]:
    """The ``top`` functions by cumulative (or own) time, as ``cumulative s  own s  calls  file:line(function)``."""
    stats = pstats.Stats(profile)
    column = 2 if own_time else 3
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][column])  # type: ignore[attr-defined]
    out = []
    root = str(Path(__file__).resolve().parent.parent.parent) + "/"
    for (filename, line, function), (_cc, calls, own, cumulative, _callers) in rows:
        if function in {"<module>", "<built-in method builtins.exec>"} or (filename == "~" and "exec" in function):
            continue
        where = filename.replace(root, "") if filename != "~" else ""
        out.append(f"{cumulative:>8.3f} s {own:>8.3f} s {calls:>9}  {where}:{line}({function})")
        if len(out) == top:
            break
    return out


def bench_throughput(
    stored: int = 20_000,
    fresh: int = 2_000,
    *,
    batch_size: int = 250,
    base_batch_size: int = 500,
    base_seconds: float = 90.0,
    fresh_seconds: float = 60.0,
    pairs: int = 10_000,
    seed: int = 0,
    profile_top: int = 0,
) -> dict[str, Any]:
    """RFQs/s of attribute extraction, pair decisions and the whole store decision over a clustered store.

    Up to ``stored`` RFQs are embedded and clustered through ``assign_clusters`` (``base_batch_size`` a call) until
    ``base_seconds`` have passed (0: no limit; the clustered count is reported, the rest stays out of the store: no
    vector, no attributes, no cluster). Then up to ``fresh`` new RFQs are placed ``batch_size`` a call, whole batches
    until ``fresh_seconds`` have passed (0: no limit), and timed. Prints one line per figure as it goes and returns
    them. ``profile_top`` > 0 profiles one more batch of ``batch_size`` and prints that many hotspots.
    """
    import psycopg

    from rfq_pipeline.ai.embedding_store import rfq_embedding_text
    from rfq_pipeline.ai.embeddings import embedder_named
    from rfq_pipeline.db import repository
    from rfq_pipeline.dedup import clusters
    from rfq_pipeline.dedup import pairs as pairs_module
    from rfq_pipeline.dedup.attributes import extract
    from rfq_pipeline.dedup.clusters import assign_clusters, ensure_embeddings
    from rfq_pipeline.dedup.pairs import decide_pair, default_model
    from rfq_pipeline.dedup.tempdb import temporary_database
    from rfq_pipeline.settings import Settings

    settings = Settings.from_env()
    embedder = embedder_named(settings.embedder)
    model = default_model().with_threshold(settings.dedup_min_probability)
    store_options: dict[str, Any] = {"model": embedder.name, "min_similarity": settings.dedup_min_similarity}
    if "settings" in inspect.signature(assign_clusters).parameters:
        # The pipeline's settings without an API key: the local decision only, never a paid Claude call.
        store_options["settings"] = dataclasses.replace(settings, anthropic_api_key=None)
    base, held_out, rng = throughput_workload(stored, seed)
    report: dict[str, Any] = {"batch_size": batch_size, "embedder": embedder.name}
    print(f"{'dedup workload: real corpus records / held out':<52}{len(corpus_requests()):>9} {len(held_out):>9}")

    # Extraction alone: the pure-Python facts of as many RFQs as the fresh batch, shaped like it (warm caches first).
    sample = [r for _kind, r in fresh_requests(base, held_out, fresh, random.Random(seed + 1))]
    for r in sample[:200]:
        extract(**r.attribute_inputs())
    started = time.perf_counter()
    attributes = [extract(**r.attribute_inputs()) for r in sample]
    seconds = time.perf_counter() - started
    _line("dedup: extract attributes (pure Python)", seconds, len(sample), "rfqs")
    report["extract_rfqs_per_s"] = extract_rate = len(sample) / seconds

    # Pair decisions alone: those RFQs against each other, half of the pairs sharing their last two title words
    # (likely candidates), with their embeddings' cosine.
    pick = random.Random(seed + 2)
    vectors = embedder.embed([rfq_embedding_text(r.title, r.description) for r in sample])
    by_words: dict[str, list[int]] = {}
    for j, r in enumerate(sample):
        by_words.setdefault(" ".join(r.title.lower().split()[-2:]), []).append(j)
    index_pairs = []
    while len(index_pairs) < pairs:
        i = pick.randrange(len(sample))
        alike = by_words[" ".join(sample[i].title.lower().split()[-2:])]
        j = pick.choice(alike) if len(alike) > 1 and pick.random() < 0.5 else pick.randrange(len(sample))
        index_pairs.append((i, j, float(vectors[i] @ vectors[j])))
    started = time.perf_counter()
    matched = sum(decide_pair(attributes[i], attributes[j], cosine, model).matched for i, j, cosine in index_pairs)
    seconds = time.perf_counter() - started
    _line("dedup: decide_pair (pure Python, sampled pairs)", seconds, len(index_pairs), "pairs")
    report |= {"pairs_per_s": len(index_pairs) / seconds, "sampled_pairs_matched": matched}

    def place(conn: Any, ids: Sequence[int], size: int, budget: float) -> tuple[int, float, list[float], Counter[str]]:
        """Embed (untimed) and cluster ``ids`` ``size`` a call until ``budget`` seconds of clustering have passed."""
        placed: Counter[str] = Counter()
        per_batch: list[float] = []
        done = 0
        for chunk in _chunks(ids, size):
            if budget and sum(per_batch) >= budget:
                break
            ensure_embeddings(conn, embedder, chunk)  # the rfqs/embedded stage, before dedup
            conn.commit()
            t = time.perf_counter()
            result = assign_clusters(conn, chunk, actor="bench", **store_options)
            conn.commit()
            per_batch.append(time.perf_counter() - t)
            placed.update(result.by_matched_by)
            done += len(chunk)
        return done, sum(per_batch), per_batch, placed

    with temporary_database(settings, prefix="rfq_bench_tp") as url, psycopg.connect(url) as conn:
        sources = {r.source for r in base} | {r.source for r in held_out}
        for source in sorted(sources):
            repository.upsert_source(conn, name=source, kind="loader", base_url="file:", cadence="manual", enabled=True)
        epoch = datetime(2024, 1, 1, tzinfo=UTC)
        base_ids = _insert_requests(conn, base, "b", epoch)
        conn.commit()

        clustered, seconds, _per_batch, _placed = place(conn, base_ids, base_batch_size, base_seconds)
        _line(f"dedup: cluster the stored base ({base_batch_size}/batch)", seconds, clustered, "rfqs")
        row = conn.execute("SELECT count(*) FROM dedup_clusters WHERE merged_into IS NULL").fetchone()
        conn.commit()
        report |= {"stored": clustered, "stored_clusters": int(row[0]) if row else 0}
        report["base_cluster_rfqs_per_s"] = clustered / seconds
        print(f"{'dedup: stored (clustered) RFQs / active clusters':<52}{clustered:>9} {report['stored_clusters']:>9}")
        conn.autocommit = True  # what autovacuum would have done by now on a store this size
        conn.execute("VACUUM ANALYZE rfqs, rfq_embeddings, rfq_dedup_attributes, dedup_cluster_members")
        conn.autocommit = False

        batch = fresh_requests(base[:clustered], held_out, fresh, rng)
        fresh_ids = _insert_requests(conn, [r for _k, r in batch], "f", epoch + timedelta(days=400))
        conn.commit()
        targets = {"extract": (clusters, "extract"), "decide_pair": (pairs_module, "decide_pair")}
        with _CallCounter(targets, keep=pairs) as calls:
            placed_n, seconds, per_batch, placed = place(conn, fresh_ids, batch_size, fresh_seconds)
        whole_rate = placed_n / seconds
        _line(f"dedup: whole decision, assign_clusters ({batch_size}/batch)", seconds, placed_n, "rfqs")
        p50 = float(np.percentile(per_batch, 50))
        print(f"{'dedup: whole decision, p50 seconds per batch':<52}{len(per_batch):>9} {'batch':<6}{p50:>9.3f} s")
        print(
            f"{'dedup: extractions / pair decisions per placed RFQ':<52}"
            f"{calls.counts['extract'] / placed_n:>9.1f} {calls.counts['decide_pair'] / placed_n:>9.1f}"
        )
        replay = calls.calls["decide_pair"]
        started = time.perf_counter()
        for args, kwargs in replay:
            decide_pair(*args, **kwargs)
        seconds = time.perf_counter() - started
        _line("dedup: decide_pair replayed on the run's own pairs", seconds, len(replay), "pairs")
        report["candidate_pairs_per_s"] = len(replay) / seconds
        expected = sum(kind in ("repost", "reword") for kind, _r in batch[:placed_n])
        print(
            f"{'dedup: placed joined / founded (reposts+rewords)':<52}"
            f"{placed_n - placed['new']:>9} {placed['new']:>9} ({expected})"
        )
        print(f"{'ratio whole decision / extraction RFQs/s':<52}{whole_rate / extract_rate:>9.3f}")
        report |= {
            "fresh_placed": placed_n,
            "whole_rfqs_per_s": whole_rate,
            "whole_p50_batch_s": p50,
            "extractions_per_rfq": calls.counts["extract"] / placed_n,
            "pair_decisions_per_rfq": calls.counts["decide_pair"] / placed_n,
            "fresh_by_matched_by": dict(placed),
            "ratio_whole_to_extract": whole_rate / extract_rate,
        }

        if profile_top:
            extra = fresh_requests(base[:clustered], held_out, batch_size, rng, offset=fresh)
            extra_ids = _insert_requests(conn, [r for _k, r in extra], "x", epoch + timedelta(days=500))
            ensure_embeddings(conn, embedder, extra_ids)
            conn.commit()
            profiler = cProfile.Profile()
            profiler.enable()
            assign_clusters(conn, extra_ids, actor="bench", **store_options)
            conn.commit()
            profiler.disable()
            print(f"profile of one batch of {len(extra_ids)} fresh RFQs (cumulative, own, calls, where):")
            for line in _hotspots(profiler, profile_top):
                print(f"  {line}")
            print("by own time:")
            for line in _hotspots(profiler, profile_top, own_time=True):
                print(f"  {line}")
    return report


def _print_ann(report: dict[str, Any]) -> None:
    n, k = report["n"], report["k"]
    load_rate = n / max(report["load_seconds"], 1e-9)
    bulk_rate = n / max(report["bulk_seconds"], 1e-9)
    recall = report[f"recall_at_{k}"]
    print(f"{'dedup ANN: stored vectors (' + report['model'] + ')':<52}{n:>9}")
    _line("dedup ANN: load, COPY + merge without HNSW (anchor)", report["load_seconds"], n)
    _line("dedup ANN: HNSW index build", report["index_build_seconds"], n)
    _line("dedup ANN: bulk load incl. index build", report["bulk_seconds"], n)
    print(f"{'ratio bulk load incl. build / load without index':<52}{bulk_rate / load_rate:>9.3f}")
    print(f"{'ratio bulk load rows/s / 10,000':<52}{bulk_rate / 10_000:>9.3f}  {_TARGET_ROWS}")
    p50, p99 = report["ann_p50_ms"], report["ann_p99_ms"]
    print(f"{'dedup ANN: p50 / p99 ms':<52}{p50:>9.3f} {p99:>9.3f}  (target p50 <= 2)")
    print(f"{'dedup exact scan: p50 / p99 ms':<52}{report['exact_p50_ms']:>9.3f} {report['exact_p99_ms']:>9.3f}")
    label = f"dedup ANN: recall@{k} vs exact (ef_search {report['ef_search']})"
    print(f"{label:<52}{recall:>9.4f}  (target >= 0.99)")
    print(f"{'ratio exact / ANN p50 latency':<52}{report['exact_p50_ms'] / max(report['ann_p50_ms'], 1e-9):>9.1f}")
    print(f"{'ratio ANN p50 / 2 ms':<52}{report['ann_p50_ms'] / 2.0:>9.3f}  (target <= 1)")
    if not report["ann_uses_hnsw_index"]:
        print("dedup ANN: WARNING the lookup's plan does not use the model's HNSW index")


_TARGET_ROWS = "(target >= 10,000 rows/s incl. index build)"


def _line(name: str, seconds: float, rows: int, unit: str = "rows") -> None:
    print(f"{name:<52}{rows:>9} {unit:<6}{seconds:>9.3f} s{rows / seconds:>12,.0f} {unit}/s")


def main(argv: Sequence[str] | None = None) -> None:
    """``make bench`` (dedup): the ANN lookup at ``--ann-n`` vectors, then the decision's throughput, one line each."""
    parser = argparse.ArgumentParser(prog="python -m rfq_pipeline.devtools.bench_dedup", description=__doc__)
    parser.add_argument("--ann-n", type=int, default=100_000, help="stored vectors for the ANN benchmark")
    parser.add_argument("--queries", type=int, default=200, help="ANN queries")
    parser.add_argument(
        "--ef-search", type=int, default=None, help="hnsw.ef_search of the lookups (default: the pipeline's)"
    )
    parser.add_argument("--stored", type=int, default=20_000, help="RFQs clustered before the timed batch")
    parser.add_argument("--fresh", type=int, default=2_000, help="RFQs placed in the timed run")
    parser.add_argument("--batch-size", type=int, default=250, help="RFQs per assign_clusters call (timed run)")
    parser.add_argument("--base-batch-size", type=int, default=500, help="RFQs per call when clustering the base")
    parser.add_argument("--base-seconds", type=float, default=90.0, help="stop clustering the base after (0: never)")
    parser.add_argument("--fresh-seconds", type=float, default=60.0, help="stop placing fresh batches after (0: never)")
    parser.add_argument("--pairs", type=int, default=10_000, help="pairs for the decide_pair benchmark")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP", help="profile one more batch, print TOP rows")
    parser.add_argument("--skip-ann", action="store_true", help="only the throughput benchmark")
    parser.add_argument("--skip-throughput", action="store_true", help="only the ANN benchmark")
    parser.add_argument("--json", action="store_true", help="also print every figure as one JSON object")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    if not args.skip_ann:
        figures["ann"] = bench_dedup(args.ann_n, queries=args.queries, ef_search=args.ef_search, seed=args.seed)
        _print_ann(figures["ann"])
    if not args.skip_throughput:
        figures["throughput"] = bench_throughput(
            args.stored,
            args.fresh,
            batch_size=args.batch_size,
            base_batch_size=args.base_batch_size,
            base_seconds=args.base_seconds,
            fresh_seconds=args.fresh_seconds,
            pairs=args.pairs,
            seed=args.seed,
            profile_top=args.profile,
        )
    if args.json:
        print(json.dumps(figures, indent=2, default=float))


if __name__ == "__main__":
    main()
