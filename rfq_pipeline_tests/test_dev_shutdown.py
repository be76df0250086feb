"""`rfq-pipeline dev` (what `make ui` runs) stops everything it started when it is told to stop.

Through the real entry point: the command starts the simulator and moto in process, the desk and `dagster dev`,
which starts the webserver, the daemon and a code server (which starts a gRPC server). A process supervisor
signals the command alone; a terminal or `kill -- -PGID` signals its whole process group. Either way no process
of the tree may survive it, and the ports must be free for the next `make ui`.

The two cases are independent (one `rfq-pipeline dev` each, on ports of their own), so pytest-xdist runs them in
parallel.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0

# The dev command runs exec'd from this, with SIGINT at its default: a test run started in the background of a
# non-interactive shell inherits an ignored SIGINT, which the command (rightly) leaves ignored.
EXEC_WITH_DEFAULT_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    """Whether a new server could listen on ``port`` (as the webserver does, with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running: a zombie has ended and only waits to be reaped."""
    running = []
    for process in processes:
        with suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def _describe(processes: list[psutil.Process]) -> list[str]:
    described = []
    for process in processes:
        try:
            described.append(f"{process.pid}: {' '.join(process.cmdline())[:160]}")
        except psutil.Error:
            described.append(f"{process.pid}: (gone)")
    return described


@dataclass
class DevCommand:
    """A running `rfq-pipeline dev`, where it listens, and the processes it started (once the UI answered)."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    log: Path
    tree: list[psutil.Process] = field(default_factory=list)

    def output(self) -> str:
        """What the command and its children printed so far (the end of it)."""
        return self.log.read_text(errors="replace")[-6000:]


@pytest.fixture()
def dev_command(pg_url: str, tmp_path: Path) -> Iterator[DevCommand]:
    """`rfq-pipeline dev` on free ports and the session's database, once the Dagster webserver answers."""
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RFQ_", "DAGSTER_", "AWS_")) and k not in {"DATABASE_URL", "ANTHROPIC_API_KEY"}
    }
    # The session's embedded server (already migrated) rather than one started for each case from RFQ_DATA_DIR.
    env.update(DATABASE_URL=pg_url, RFQ_DATA_DIR=str(tmp_path / "data"), DAGSTER_HOME=str(dagster_home))
    ports = {"dagster": _free_port(), "desk": _free_port(), "simulator": _free_port()}
    log = tmp_path / "dev.log"
    command = [str(BIN / "rfq-pipeline"), "dev", "--port", str(ports["dagster"]), "--desk-port", str(ports["desk"]),
               "--simulator-port", str(ports["simulator"])]  # fmt: skip
    with log.open("wb") as out:
        # A session of its own, so that the group case signals nothing of the test run.
        process = subprocess.Popen(
            [sys.executable, "-c", EXEC_WITH_DEFAULT_SIGINT, *command],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    dev = DevCommand(process, ports, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, f"rfq-pipeline dev exited with {process.returncode}:\n{dev.output()}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ports['dagster']}/server_info", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"no Dagster webserver after {START_TIMEOUT_S:.0f}s:\n{dev.output()}"
            time.sleep(0.5)
        # Looked up now, while they are still below the command: one whose parent exits moves to init.
        dev.tree = psutil.Process(process.pid).children(recursive=True)
        yield dev
    finally:
        # Whatever the outcome, nothing of this case outlives it.
        if process.poll() is None:
            with suppress(psutil.NoSuchProcess):
                dev.tree += psutil.Process(process.pid).children(recursive=True)
            os.killpg(process.pid, signal.SIGKILL)
        for leftover in _running(dev.tree):
            with suppress(psutil.NoSuchProcess):
                leftover.kill()
        process.wait(timeout=30)


@pytest.mark.timeout(START_TIMEOUT_S + 3 * STOP_TIMEOUT_S)
@pytest.mark.parametrize(
    ("signum", "to_group", "exit_code"),
    [(signal.SIGINT, False, 130), (signal.SIGTERM, True, 143)],
    ids=["sigint-to-the-command-alone", "sigterm-to-its-process-group"],
)
def test_dev_stops_its_whole_process_tree_and_frees_its_ports(
    dev_command: DevCommand, signum: signal.Signals, to_group: bool, exit_code: int
) -> None:
    process, tree = dev_command.process, dev_command.tree
    commands = "\n".join(_describe(tree))
    # The tree the command is expected to have started, so that "all gone" below means something.
    for part in ("desk serve", "dagster dev", "dagster_webserver", "dagster._daemon", "code-server"):
        assert part in commands, f"no {part!r} among the processes of rfq-pipeline dev:\n{commands}"

    signalled = time.monotonic()
    if to_group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    try:
        returncode = process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"rfq-pipeline dev still runs {STOP_TIMEOUT_S:.0f}s after {signum.name}:\n{dev_command.output()}")
    while _running(tree) and time.monotonic() - signalled < STOP_TIMEOUT_S:
        time.sleep(0.2)
    left = _running(tree)
    assert not left, f"still running after {signum.name}: {_describe(left)}\n{dev_command.output()}"
    assert returncode == exit_code, dev_command.output()
    # dagster dev's last words (Dagster 1.13) once its webserver and daemon have stopped: it was allowed to shut
    # down in order, not killed halfway, which would leave its code server to linger until a heartbeat times out.
    assert "Dagster services shut down." in dev_command.output()
    busy = [name for name, port in dev_command.ports.items() if not _port_is_free(port)]
    assert not busy, f"ports still taken after {signum.name}: {busy}"
