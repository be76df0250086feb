"""``rfq-pipeline``: the command line for operators, analysts and ``make``."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from rfq_pipeline.settings import Settings, SettingsError

if TYPE_CHECKING:
    import psutil


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _cmd_db(args: argparse.Namespace) -> int:
    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import resolve_database_url

    settings = Settings.from_env()
    url = resolve_database_url(settings)
    if args.db_command == "migrate":
        applied = migrations.migrate(url, settings.migrations_dir)
        if applied:
            for migration in applied:
                print(f"applied {migration.path.name}")
        else:
            print("database is up to date")
    elif args.db_command == "status":
        pending = migrations.pending(url, settings.migrations_dir)
        print(f"database: {_masked(url)}")
        print(f"pending migrations: {', '.join(m.path.name for m in pending) if pending else 'none'}")
        return 1 if pending else 0
    elif args.db_command == "url":
        print(_masked(url))
    return 0


def _cmd_simulator(args: argparse.Namespace) -> int:
    from rfq_pipeline.devtools.simulator import serve

    serve(args.host, args.port, date.fromisoformat(args.today) if args.today else None)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from rfq_pipeline.local_run import run_local

    summary = run_local(date.fromisoformat(args.date) if args.date else None, use_simulator=not args.live)
    print(summary.render())
    return 0 if summary.success else 1


# SIGHUP too: the children have sessions of their own, so a closed terminal no longer hangs them up directly.
_DEV_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Signalled(BaseException):
    """Raised by ``rfq-pipeline dev``'s handler on the first stop signal; a BaseException, like KeyboardInterrupt,
    so that no ``except Exception`` on the way up swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _DevSignals:
    """SIGINT, SIGTERM and SIGHUP for ``rfq-pipeline dev``: the first unwinds the command, so that it stops what it
    started; a later one only makes the shutdown skip the rest of its grace period."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.urgent = False
        self._deferred = 0

    def handle(self, signum: int, _frame: object) -> None:
        """The handler: raise on the first signal, unless inside :meth:`deferred` or :meth:`shield` was called."""
        if self.signum is not None:
            self.urgent = True
            return
        self.signum = signum
        if not self._deferred:
            raise _Signalled(signum)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """A block the first signal does not interrupt; it is raised when the block ends.

        Around starting a child and registering its stop: a signal in between would leave the child running.
        """
        self._deferred += 1
        try:
            yield
        finally:
            self._deferred -= 1
        if self.signum is not None and not self._deferred:
            raise _Signalled(self.signum)

    def shield(self) -> None:
        """From now on no signal interrupts: the command is already stopping what it started."""
        self._deferred += 1

    def install(self) -> Callable[[], None]:
        """Install the handler for SIGINT, SIGTERM and SIGHUP; returns what restores the previous handlers.

        A signal ignored from the start stays ignored: under ``nohup`` a closed terminal must not stop the command.
        """
        previous = {
            signum: signal.signal(signum, self.handle)
            for signum in _DEV_STOP_SIGNALS
            if signal.getsignal(signum) is not signal.SIG_IGN
        }

        def restore() -> None:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

        return restore


def _cmd_dev(args: argparse.Namespace) -> int:
    import os
    import time
    from contextlib import ExitStack

    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import resolve_database_url

    signals = _DevSignals()
    try:
        with ExitStack() as stack:
            # Ours rather than KeyboardInterrupt and main()'s SIGTERM exit: Python runs handlers in the main thread
            # only, and the simulator's and moto's threads may receive the signal, which then interrupts nothing
            # the main thread is blocked in; so the main thread polls below instead of blocking in wait().
            stack.callback(signals.install())
            if not args.live and not os.environ.get("RFQ_SIMULATOR_URL"):
                from rfq_pipeline.devtools.simulator import start_simulator

                simulator = start_simulator(port=args.simulator_port)
                stack.callback(simulator.stop)
                os.environ["RFQ_SIMULATOR_URL"] = simulator.url
                print(f"marketplace simulator on {simulator.url}")
            if not args.live:
                # Offline like `make run`: no DNS, and a local AWS (moto) unless one is configured, so the desk's
                # mail goes to a local SES whose sent mail the desk's outbox shows.
                os.environ.setdefault("RFQ_DNS_SERVER", "off")
                if not os.environ.get("AWS_ENDPOINT_URL") and not os.environ.get("AWS_ACCESS_KEY_ID"):
                    from rfq_pipeline.devtools.local_aws import local_aws

                    aws = stack.enter_context(local_aws())
                    print(f"local AWS (moto) on {aws.endpoint_url}: SES sends from {os.environ['RFQ_QUOTE_FROM']}")
            os.environ.setdefault("RFQ_DESK_URL", f"http://127.0.0.1:{args.desk_port}")
            settings = Settings.from_env()
            url = resolve_database_url(settings)
            migrations.migrate(url, settings.migrations_dir)
            if os.environ.get("DAGSTER_HOME"):
                import dagster as dg

                from rfq_pipeline.ops.concurrency import apply_pool_limits

                # dagster.yaml can only set a default pool limit; the named pools' slots live in the instance.
                apply_pool_limits(dg.DagsterInstance.get())
            _desk_hint(url, args.desk_port)
            children: list[subprocess.Popen[bytes]] = []
            stack.callback(_stop, children, hurry=lambda: signals.urgent)
            # The desk and dagster dev's run processes inherit this environment, so they reach the same simulator,
            # database and AWS. Their executables sit beside this interpreter; the virtualenv need not be activated.
            # Each gets a session of its own, so that a terminal's Ctrl-C reaches only this process, which then stops
            # them in order, and so that _stop can find each child's whole process group and kill what lingers.
            bin_dir = Path(sys.executable).parent
            with signals.deferred():
                children.append(
                    subprocess.Popen(
                        [str(bin_dir / "rfq-pipeline"), "desk", "serve", "--port", str(args.desk_port)],
                        start_new_session=True,
                    )
                )
            with signals.deferred():
                dagster = subprocess.Popen(
                    [str(bin_dir / "dagster"), "dev", "-w", "workspace.yaml", "--port", str(args.port)],
                    start_new_session=True,
                )
                children.append(dagster)
            # Registered last, so it runs first: a signal during the shutdown must not cut the shutdown short.
            stack.callback(signals.shield)
            while (code := dagster.poll()) is None:
                time.sleep(0.2)
            # A child killed by signal N: the shell's convention, 128 + N.
            return 128 - code if code < 0 else code
    except _Signalled as signalled:
        print(f"rfq-pipeline dev: stopped on {signal.Signals(signalled.signum).name}", file=sys.stderr)
        return 128 + signalled.signum


# dagster dev stops its webserver and daemon and then its code server (a few seconds, more on a loaded machine).
_STOP_GRACE_S = 20.0


def _stop(
    processes: Sequence[subprocess.Popen[bytes]],
    *,
    grace: float = _STOP_GRACE_S,
    hurry: Callable[[], bool] = lambda: False,
) -> None:
    """Stop each of ``processes`` (each started in a session of its own) and every process it started.

    SIGTERM goes to each process alone, so that it stops its own children in order: dagster dev stops its webserver
    and daemon, then its code server. A signal to its whole group would race that: dagster dev's code-server
    supervisor restarts a code server it sees exit (Dagster 1.13), and the new one outlives dagster dev. What a
    process leaves behind when it has ended (descendants, members of its group) gets SIGTERM then. Whatever still
    runs after ``grace`` seconds, or as soon as ``hurry()`` says so, is killed. The descendants are looked up first,
    while they are still below their parents: a code server whose parent has exited belongs to init.
    """
    import os
    import time

    left = {process.pid: _tree_of(process) for process in processes}
    orphaned: set[int] = set()
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while not hurry() and time.monotonic() < deadline:
        done = True
        for process in processes:
            if process.poll() is None:
                done = False
                continue
            if process.pid not in orphaned:
                # It has ended, so nothing stops what it left in order any more. Looked up again: it may have
                # started something since the first look.
                orphaned.add(process.pid)
                left[process.pid] = _merged(left[process.pid], _tree_of(process))
                _signal_all(_running(left[process.pid]), signal.SIGTERM)
            done = done and not _running(left[process.pid])
        if done:
            return
        time.sleep(0.1)
    for process in processes:
        survivors = _running(_merged(left[process.pid], _tree_of(process)))
        if process.poll() is None:
            # Not reaped, so its pid, which names its group, cannot have been reused.
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        elif not survivors:
            continue
        name = Path(str(process.args[0])).name
        print(f"rfq-pipeline dev: killed {name} and {len(survivors)} process(es) it started", file=sys.stderr)
        _signal_all(survivors, signal.SIGKILL)
        left[process.pid] = survivors
    for process in processes:
        process.wait()
    # SIGKILL is not instant: wait a little, so that the ports are free when this returns.
    deadline = time.monotonic() + 5
    while any(_running(procs) for procs in left.values()) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tree_of(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """The descendants of ``process`` and the other members of its process group (its children's children may have
    left the tree already, when their parent exited first).

    The group is found by its id, the pid of ``process``, even once ``process`` is reaped: Linux hands out pids in
    turn up to ``pid_max``, so the id is not someone else's within the seconds a shutdown takes.
    """
    import os

    import psutil

    found: dict[int, psutil.Process] = {}
    if process.poll() is None:  # not reaped: its pid is still its own
        with suppress(psutil.Error):
            found.update((child.pid, child) for child in psutil.Process(process.pid).children(recursive=True))
    for candidate in psutil.process_iter():
        with suppress(psutil.Error, OSError):
            if candidate.pid != process.pid and os.getpgid(candidate.pid) == process.pid:
                found.setdefault(candidate.pid, candidate)
    return list(found.values())


def _merged(*groups: Sequence[psutil.Process]) -> list[psutil.Process]:
    """The processes of ``groups``, each once."""
    return list({process.pid: process for group in groups for process in group}.values())


def _signal_all(processes: Sequence[psutil.Process], signum: int) -> None:
    """Send ``signum`` to each of ``processes``; psutil refuses a pid that has meanwhile been reused."""
    import psutil

    for process in processes:
        with suppress(psutil.Error):
            process.send_signal(signum)


def _running(processes: Sequence[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running; a zombie has ended and only waits for its parent (or init)."""
    import psutil

    running = []
    for process in processes:
        with suppress(psutil.Error):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def _desk_hint(url: str, port: int) -> None:
    """Say where the desk is, and how to get in when nobody can yet."""
    import psycopg

    with psycopg.connect(url) as conn:
        users = conn.execute("SELECT count(*) FROM desk_users").fetchone()[0]
        drafts = conn.execute("SELECT count(*) FROM quote_drafts").fetchone()[0]
    print(f"sales desk on http://127.0.0.1:{port}")
    if not users:
        print("  no desk user yet: .venv/bin/rfq-pipeline desk add-user you@example.com --role lead")
    if not drafts:
        print("  no quote drafts yet: `make run` drafts today's quotes")


def _cmd_sources(args: argparse.Namespace) -> int:
    from rfq_pipeline.sources import cli as sources_cli
    from rfq_pipeline.sources.registry import SOURCES

    settings = Settings.from_env()
    if args.sources_command in (None, "list"):
        return sources_cli.list_command(settings)
    if args.sources_command == "parse":
        return sources_cli.parse_command(args.name, Path(args.file), args.fetched_at)
    if args.sources_command == "probe":
        save = Path(args.save) if args.save else None
        return sources_cli.probe_command(settings, args.names, save, args.json)

    from rfq_pipeline.db.database import Database, resolve_database_url
    from rfq_pipeline.fetch.breaker import CircuitBreaker, breaker_status

    with Database(resolve_database_url(settings), min_size=1, max_size=1) as db:
        if args.sources_command == "health":
            for name in SOURCES:
                status = breaker_status(db, name)
                print(f"{name:<20} {status.describe() if status else 'never fetched'}")
            return 0
        if args.name not in SOURCES:
            print(f"unknown source {args.name!r}; known: {', '.join(SOURCES)}", file=sys.stderr)
            return 2
        if breaker_status(db, args.name) is None:
            print(f"{args.name} has never been fetched; its breaker is closed")
            return 0
        CircuitBreaker(db, args.name).reset()
        print(f"{args.name}: circuit breaker reset to closed")
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from rfq_pipeline.ai.classify_jsonl import classify_jsonl

    report = classify_jsonl(Path(args.input), Path(args.output))
    print(report.render(), file=sys.stderr)
    return 0 if not report.errors else 1


def _cmd_models(args: argparse.Namespace) -> int:
    import time

    from rfq_pipeline.ai.classifier import ensure_trained
    from rfq_pipeline.ai.embeddings import STATIC_ARTIFACT, distill_static, ensure_static_artifact

    started = time.perf_counter()
    if args.force and STATIC_ARTIFACT.exists():
        distill_static(STATIC_ARTIFACT)
    static = ensure_static_artifact()
    print(f"static embedder: {static.name} ({time.perf_counter() - started:.0f}s)")
    started = time.perf_counter()
    if args.force:
        from rfq_pipeline.ai.classifier import model_path

        model_path().unlink(missing_ok=True)
    classifier = ensure_trained()
    print(f"local classifier: {classifier.name} ({time.perf_counter() - started:.0f}s)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rfq_pipeline.ai import evaluation

    embedders = ["minilm-static", "minilm"] if args.compare_embedders else ["minilm-static"]
    for embedder in embedders:
        print(evaluation.full_report(embedder))
    if not args.skip_dedup:
        from rfq_pipeline.dedup.evaluation import evaluate as evaluate_dedup
        from rfq_pipeline.dedup.pair_model import dev_set_report

        print(dev_set_report())
        print("dedup on the repost cases (go4world reposts, TradeKey slugs, 2,000 distinct Alibaba requests):")
        evaluate_dedup()
    from rfq_pipeline.quotes.matching import pair_report

    pairs = pair_report()
    precision, recall, f1 = pairs.test
    print(
        f"product matcher on {pairs.tune_size + pairs.test_size} labeled product pairs (threshold {pairs.threshold} "
        f"chosen on {pairs.tune_size}, scored on the other {pairs.test_size}): precision {precision:.3f}, "
        f"recall {recall:.3f}, F1 {f1:.3f}"
    )
    return 0


def _cmd_dedup(args: argparse.Namespace) -> int:
    from rfq_pipeline.dedup.cli import dedup_jsonl

    run = dedup_jsonl(Path(args.input), Path(args.output))
    counts = ", ".join(f"{k}={v}" for k, v in sorted(run.by_matched_by.items()))
    print(f"{len(run.rows)} RFQs -> {run.clusters} clusters ({run.duplicates} duplicates: {counts})", file=sys.stderr)
    for error in run.errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if run.errors else 0


def _cmd_intake(args: argparse.Namespace) -> int:
    from rfq_pipeline.intake.cli import parse_email_command

    return parse_email_command(Path(args.file))


def _cmd_quote(args: argparse.Namespace) -> int:
    from rfq_pipeline.quotes import cli as quote_cli

    if args.quote_command == "draft":
        return quote_cli.draft_command(
            Path(args.input), discount=args.discount, incoterm=args.incoterm, currency=args.currency
        )
    if args.quote_command == "list":
        return quote_cli.list_command(args.state, args.limit)
    return quote_cli.action_command(
        args.quote_command,
        args.id,
        note=getattr(args, "note", ""),
        state=getattr(args, "state", None),
        resend=getattr(args, "all", False),
        confirm_address=getattr(args, "confirm_address", False),
    )


def _label_usage_error(args: argparse.Namespace) -> str | None:
    if args.uncertain:
        if args.rfq_id is not None or args.industry is not None or args.relevant is not None or args.note:
            return "--uncertain only lists the waiting RFQs; label one with: rfq-pipeline label RFQ_ID --industry ..."
        return "--limit must be at least 1" if args.limit < 1 else None
    if args.rfq_id is None:
        return "say which RFQ to label (rfq-pipeline label RFQ_ID --industry X --relevant yes|no), or --uncertain"
    if args.source is not None:
        return "--source goes with --uncertain"
    return None


def _cmd_label(args: argparse.Namespace) -> int:
    from rfq_pipeline.ai.corrections import LabelError, record_label
    from rfq_pipeline.db import migrations
    from rfq_pipeline.db.database import Database, resolve_database_url
    from rfq_pipeline.quotes.cli import cli_actor

    problem = _label_usage_error(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    url = resolve_database_url(settings)
    migrations.migrate(url, settings.migrations_dir)
    if args.uncertain:
        from rfq_pipeline.ai.review_queue import count_uncertain, uncertain_rfqs

        with Database(url, min_size=1, max_size=1) as db, db.connection() as conn:
            rows = uncertain_rfqs(conn, limit=args.limit, source=args.source)
            total = count_uncertain(conn, source=args.source)
        for row in rows:
            print(json.dumps({"rfq_id": row.id, "source": row.source, "posted_at": row.posted_at.isoformat(),
                              "confidence": None if row.confidence is None else round(row.confidence, 3),
                              "industry": row.industry, "relevant": row.relevant, "title": row.title},
                             ensure_ascii=False))  # fmt: skip
        # The hint goes to stderr so the listing stays one JSON object per line.
        shown = f"; the newest {len(rows)} listed" if total > len(rows) else ""
        print(f"{total} RFQ{'' if total == 1 else 's'} waiting for a person{shown}. Settle one with: "
              "rfq-pipeline label RFQ_ID --industry X --relevant yes|no", file=sys.stderr)  # fmt: skip
        return 0
    relevant = None if args.relevant is None else args.relevant == "yes"
    with Database(url, min_size=1, max_size=1) as db, db.connection() as conn:
        try:
            label = record_label(conn, args.rfq_id, actor=cli_actor(), industry=args.industry, relevant=relevant,
                                 note=args.note, targets=settings.target_industries)  # fmt: skip
        except LabelError as error:
            conn.rollback()
            print(f"error: {error}", file=sys.stderr)
            return 2
        conn.commit()
    print(json.dumps({"rfq_id": label.rfq_id, "label_id": label.label_id, "industry": label.industry,
                      "relevant": label.relevant, "actor": label.actor}))  # fmt: skip
    return 0


def _cmd_desk(args: argparse.Namespace) -> int:
    from rfq_pipeline.desk import cli as desk_cli

    if args.desk_command == "serve":
        return desk_cli.serve_command(args.host, args.port)
    if args.desk_command == "set-password":
        return desk_cli.set_password_command(args.email, password_stdin=args.password_stdin)
    if args.desk_command in ("deactivate", "activate"):
        return desk_cli.set_active_command(args.email, active=args.desk_command == "activate")
    return desk_cli.add_user_command(args.email, args.role, password_stdin=args.password_stdin)


def _cmd_aws(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if args.aws_command == "iam-policy":
        from rfq_pipeline.aws.iam import IAM_NOTES, iam_policy

        print(IAM_NOTES if args.notes else json.dumps(iam_policy(settings, runtime_only=args.runtime_only), indent=2))
        return 0
    from botocore.exceptions import BotoCoreError, ClientError

    from rfq_pipeline.aws.bootstrap import SKIPPED, bootstrap

    try:
        report = bootstrap(settings, replace_active_rule_set=args.replace_active_rule_set)
    except (BotoCoreError, ClientError) as exc:  # botocore messages never contain credentials
        print(f"aws error: {exc}", file=sys.stderr)
        return 2
    print(report.render())
    return 1 if any(item.status == SKIPPED for item in report.items) else 0


def _cmd_dlq(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from rfq_pipeline.aws.clients import boto3_client
    from rfq_pipeline.aws.sqs import SqsError, resolve_source_queue

    settings = Settings.from_env()
    try:
        queue = resolve_source_queue(boto3_client("sqs", settings), settings, args.queue)
        if args.dlq_command == "list":
            letters = queue.list_dlq(max_messages=args.max)
            for letter in letters:
                print(
                    json.dumps(
                        {
                            "id": letter.message_id,
                            "original_id": letter.original_message_id,
                            "reason": letter.reason,
                            "receive_count": letter.receive_count,
                            "body": letter.preview(200),
                        }
                    )
                )
            print(f"{len(letters)} dead-lettered message(s) for {queue.name}", file=sys.stderr)
            return 0
        report = queue.replay_dlq(max_messages=args.max)
    except SqsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"aws error: {exc}", file=sys.stderr)
        return 2
    for old, new in zip(report.replayed, report.new_message_ids, strict=True):
        print(f"replayed {old} -> {new}")
    print(f"{len(report.replayed)} message(s) moved back to {queue.name}", file=sys.stderr)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from rfq_pipeline.exports.cli import export_command

    return export_command(args.date, args.from_date, args.to_date)


def _cmd_sql(args: argparse.Namespace) -> int:
    from rfq_pipeline.exports.cli import sql_command

    return sql_command(args.query, args.file, args.format)


def _cmd_uploads(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError

    from rfq_pipeline.aws.uploads import presign_upload

    try:
        upload = presign_upload(
            Settings.from_env(),
            args.key,
            content_type=args.content_type,
            max_bytes=args.max_bytes,
            expires=args.expires,
        )
    except BotoCoreError as exc:  # no region or no credentials to sign with
        print(f"aws error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(upload.as_json(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(prog="rfq-pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database: migrate, status, url")
    db.add_argument("db_command", choices=["migrate", "status", "url"])
    db.set_defaults(func=_cmd_db)

    sim = sub.add_parser("simulator", help="run the marketplace simulator (development and tests)")
    sim_sub = sim.add_subparsers(dest="simulator_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve the simulated marketplaces until interrupted")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--today", help="the simulated current day (YYYY-MM-DD, default: today UTC)")
    serve.set_defaults(func=_cmd_simulator)

    run = sub.add_parser("run", help="materialize the whole asset graph for one day and print a summary")
    run.add_argument("--date", help="partition day (YYYY-MM-DD, default: today UTC)")
    run.add_argument("--live", action="store_true", help="fetch from the configured sites instead of a local simulator")
    run.set_defaults(func=_cmd_run)

    dev = sub.add_parser(
        "dev", help="run `dagster dev` and the sales desk on the embedded default, the simulator and a local AWS"
    )
    dev.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    dev.add_argument("--simulator-port", type=int, default=8765)
    dev.add_argument("--desk-port", type=int, default=3100, help="sales desk port")
    dev.add_argument("--live", action="store_true", help="use the configured sites and AWS instead of local stand-ins")
    dev.set_defaults(func=_cmd_dev)

    sources = sub.add_parser("sources", help="the registered sources: list, parse, probe, health, reset-breaker")
    sources_sub = sources.add_subparsers(dest="sources_command")
    sources_sub.add_parser("list", help="each source's settings, evidence grade and fixtures as JSON lines (default)")
    parse_page = sources_sub.add_parser("parse", help="print the leads of a saved listing page as JSON lines")
    parse_page.add_argument("name", help="the source the page comes from (see `sources list`)")
    parse_page.add_argument("file", help="the saved page (HTML, or JSON for API sources)")
    parse_page.add_argument(
        "--fetched-at", help="when the page was fetched (ISO 8601; dates relative to it, default: now)"
    )
    probe = sources_sub.add_parser("probe", help="fetch page 1 of each listing politely and say how it reads")
    probe.add_argument("names", nargs="*", metavar="NAME", help="sources to probe (default: every enabled source)")
    probe.add_argument("--save", metavar="DIR", help="keep each raw page with its provenance (fixture candidates)")
    probe.add_argument("--json", action="store_true", help="one JSON object per listing instead of a table")
    sources_sub.add_parser("health", help="each source's circuit breaker")
    reset = sources_sub.add_parser("reset-breaker", help="close a source's circuit breaker by hand")
    reset.add_argument("name")
    sources.set_defaults(func=_cmd_sources)

    classify = sub.add_parser("classify", help="label the RFQs of a JSONL file with the local classifier")
    classify.add_argument("--input", required=True, help="JSONL: id, title, optional description, quantity, country")
    classify.add_argument("--output", required=True, help="JSONL written: id, industry, relevant, intent, quality")
    classify.set_defaults(func=_cmd_classify)

    models = sub.add_parser("models", help="build the local models (distilled embedder, trained classifier)")
    models.add_argument("models_command", choices=["build"])
    models.add_argument("--force", action="store_true", help="rebuild even if the artifacts exist")
    models.set_defaults(func=_cmd_models)

    evaluate = sub.add_parser("evaluate", help="classifier and dedup quality on the labeled data")
    evaluate.add_argument("--compare-embedders", action="store_true", help="also evaluate with the torch embedder")
    evaluate.add_argument("--skip-dedup", action="store_true", help="only the classifier")
    evaluate.set_defaults(func=_cmd_evaluate)

    dedup = sub.add_parser("dedup", help="cluster the RFQs of a JSONL file (id, title, ...) against a fresh store")
    dedup.add_argument("--input", required=True, help="JSONL: id, title, description, quantity, country, buyer, ...")
    dedup.add_argument("--output", required=True, help="JSONL written: id, cluster_id, matched_by")
    dedup.set_defaults(func=_cmd_dedup)
    intake = sub.add_parser("intake", help="intake parsers: parse-email FILE.eml")
    intake_sub = intake.add_subparsers(dest="intake_command", required=True)
    parse_email = intake_sub.add_parser("parse-email", help="print what the mail parser makes of one message (JSON)")
    parse_email.add_argument("file", help="a raw MIME message (.eml)")
    parse_email.set_defaults(func=_cmd_intake)

    quote = sub.add_parser("quote", help="quote drafts: draft --input RFQ.json, list, show, approve, reject, mark")
    quote_sub = quote.add_subparsers(dest="quote_command", required=True)
    q_draft = quote_sub.add_parser("draft", help="print the draft of one RFQ (JSON file) as JSON; nothing is stored")
    q_draft.add_argument("--input", required=True, help="JSON object: title, description, quantity, country")
    q_draft.add_argument("--discount", default="0", help="requested discount in percent (capped per SKU)")
    q_draft.add_argument("--incoterm", help="EXW, FOB, CIF or DDP (default: RFQ_QUOTE_INCOTERM)")
    q_draft.add_argument("--currency", help="quote currency (default: the buyer country's)")
    q_list = quote_sub.add_parser("list", help="stored drafts as JSON lines, newest first")
    q_list.add_argument("--state", choices=["queued", "approved", "edited", "rejected", "expired", "sent", "won",
                                            "lost"])  # fmt: skip
    q_list.add_argument("--limit", type=int, default=50)
    for name, text in (
        ("show", "a stored draft with its state history"),
        ("approve", "approve a draft: render its PDF and dispatch it (Slack, HubSpot, CSV sheet)"),
        ("reject", "reject a draft"),
        ("dispatch", "send an approved draft again through the channels that failed (--all: every channel)"),
        ("mail", "e-mail an approved draft's quote to the buyer through SES (once per version)"),
    ):
        cmd = quote_sub.add_parser(name, help=text)
        cmd.add_argument("id", type=int)
        if name in ("approve", "reject"):
            cmd.add_argument("--note", default="", help="why (kept in the state history)")
        if name == "dispatch":
            cmd.add_argument("--all", action="store_true", help="also the channels that already delivered it")
        if name == "mail":
            cmd.add_argument("--confirm-address", action="store_true", help="the unverified address is the buyer's")
    q_mark = quote_sub.add_parser("mark", help="move a draft to sent, won, lost or edited")
    q_mark.add_argument("id", type=int)
    q_mark.add_argument("state", choices=["sent", "won", "lost", "edited"])
    q_mark.add_argument("--note", default="")
    quote.set_defaults(func=_cmd_quote)

    label = sub.add_parser(
        "label",
        help="correct the classifier for one RFQ: its industry and/or relevance (kept, never flipped back); "
        "--uncertain lists the RFQs waiting for a person",
    )
    label.add_argument("rfq_id", type=int, nargs="?", help="the RFQ to label (not with --uncertain)")
    label.add_argument("--uncertain", action="store_true", help="list the RFQs the model was unsure of, newest first")
    label.add_argument("--limit", type=int, default=100, help="with --uncertain: at most this many (default 100)")
    label.add_argument("--source", help="with --uncertain: only this source")
    label.add_argument("--industry", help="the right industry (relevance follows unless --relevant is given)")
    label.add_argument("--relevant", choices=["yes", "no"])
    label.add_argument("--note", default="", help="why")
    label.set_defaults(func=_cmd_label)

    desk = sub.add_parser(
        "desk", help="the sales desk: serve, add-user EMAIL --role rep|lead, set-password, deactivate, activate"
    )
    desk_sub = desk.add_subparsers(dest="desk_command", required=True)
    desk_serve = desk_sub.add_parser("serve", help="serve the desk with waitress (migrates the database first)")
    desk_serve.add_argument("--host", default="127.0.0.1")
    desk_serve.add_argument("--port", type=int, default=3100)
    desk_add = desk_sub.add_parser(
        "add-user", help="add a desk user; the password is prompted for twice (or read from --password-stdin)"
    )
    desk_add.add_argument("email")
    desk_add.add_argument("--role", choices=["rep", "lead"], required=True)
    desk_add.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of standard input"
    )
    desk_password = desk_sub.add_parser("set-password", help="a new password for a desk user (ends their sessions)")
    desk_password.add_argument("email")
    desk_password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    for name, text in (("deactivate", "lock a desk user out"), ("activate", "let a locked-out desk user in again")):
        desk_sub.add_parser(name, help=text).add_argument("email")
    desk.set_defaults(func=_cmd_desk)

    aws = sub.add_parser("aws", help="AWS resources: bootstrap, iam-policy")
    aws_sub = aws.add_subparsers(dest="aws_command", required=True)
    aws_bootstrap = aws_sub.add_parser("bootstrap", help="create buckets, queues, notifications, SES (idempotent)")
    aws_bootstrap.add_argument(
        "--replace-active-rule-set", action="store_true", help="activate our SES rule set even if another is active"
    )
    aws_iam = aws_sub.add_parser("iam-policy", help="print the IAM policy document the project needs")
    aws_iam.add_argument("--runtime-only", action="store_true", help="only what the running pipeline needs")
    aws_iam.add_argument("--notes", action="store_true", help="print the explanation (markdown) instead")
    aws.set_defaults(func=_cmd_aws, replace_active_rule_set=False, runtime_only=False, notes=False)

    dlq = sub.add_parser("dlq", help="dead-letter queues: list QUEUE, replay QUEUE")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, text, default_max in (
        ("list", "print the dead-lettered messages without consuming them", 100),
        ("replay", "move dead-lettered messages back to their queue", None),
    ):
        cmd = dlq_sub.add_parser(name, help=text)
        cmd.add_argument("queue", help="inbound-mail, uploads, scrape-requests, a queue name or a queue URL")
        cmd.add_argument("--max", type=int, default=default_max, help="at most this many messages")
    dlq.set_defaults(func=_cmd_dlq)

    uploads = sub.add_parser("uploads", help="uploads bucket: presign KEY_OR_FILENAME")
    uploads_sub = uploads.add_subparsers(dest="uploads_command", required=True)
    presign = uploads_sub.add_parser("presign", help="print a presigned POST (url + fields) under uploads/")
    presign.add_argument("key", metavar="KEY_OR_FILENAME")
    presign.add_argument("--content-type", help="required Content-Type (default: guessed from the name)")
    presign.add_argument("--max-bytes", type=int, default=26214400, help="largest accepted upload in bytes")
    presign.add_argument("--expires", type=int, default=3600, help="seconds the POST stays valid")
    uploads.set_defaults(func=_cmd_uploads)

    from rfq_pipeline.imports.cli import add_parser as add_import_parser

    add_import_parser(sub)
    export = sub.add_parser("export", help="export days to Parquet for analysts and rebuild the DuckDB file")
    export.add_argument("--date", help="one posting day (YYYY-MM-DD, default: today UTC)")
    export.add_argument("--from", dest="from_date", help="first day of a range (YYYY-MM-DD)")
    export.add_argument("--to", dest="to_date", help="last day of a range, included (YYYY-MM-DD)")
    export.set_defaults(func=_cmd_export)

    sql_cmd = sub.add_parser("sql", help="run a query read-only against the analysts' DuckDB file")
    sql_cmd.add_argument("query", nargs="?", help="DuckDB SQL over the exported views (rfqs, clusters, ...)")
    sql_cmd.add_argument("--file", help="read the query from a file (e.g. sql/analyst/win_rate_by_month.sql)")
    sql_cmd.add_argument(
        "--format", choices=["text", "csv", "json"], default="text", help="aligned text table, CSV or JSON lines"
    )
    sql_cmd.set_defaults(func=_cmd_sql)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rfq-pipeline`` console script."""
    args = build_parser().parse_args(argv)
    # Turn SIGTERM into a normal exit so atexit handlers run: the embedded server stops with its last user.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
