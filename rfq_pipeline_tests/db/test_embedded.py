import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import psycopg

from rfq_pipeline.db.embedded import ensure_embedded_server, stop_embedded_server

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import psycopg
    from rfq_pipeline.db.embedded import ensure_embedded_server
    url = ensure_embedded_server(Path(sys.argv[1]))
    with psycopg.connect(url) as conn:
        print(conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0].isoformat())
    """
)


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    return int(pid_file.read_text().splitlines()[0]) if pid_file.exists() else None


def test_one_server_per_data_dir_shared_by_processes_and_stopped_by_the_last() -> None:
    with tempfile.TemporaryDirectory(prefix="rfqpg-") as tmp:
        pgdata = Path(tmp) / "pg"
        url = ensure_embedded_server(pgdata)
        with psycopg.connect(url) as conn:
            started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0].isoformat()
            version = conn.execute("SHOW server_version_num").fetchone()[0]
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            distance = conn.execute("SELECT '[1,0]'::halfvec(2) <=> '[0,1]'::halfvec(2)").fetchone()[0]
        assert int(version) >= 180000
        assert distance == 1.0
        # Two other processes join the running server instead of starting their own.
        for _ in range(2):
            child = subprocess.run(
                [sys.executable, "-c", _CHILD, str(pgdata)], capture_output=True, text=True, check=True
            )
            assert child.stdout.strip() == started
        assert _postmaster_pid(pgdata) is not None
        stop_embedded_server(pgdata)
        assert _postmaster_pid(pgdata) is None
