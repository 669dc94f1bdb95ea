"""Servers and process bookkeeping for bench/run.py: mediagate, nginx and SeaweedFS (`weed mini`)
on loopback, each in its own temp dir, each timed from process start to its first healthy answer;
CPU time and memory read from /proc; every process this module starts is ended at exit, on
SIGINT/SIGTERM/SIGHUP, and (PR_SET_PDEATHSIG) when the bench itself is killed.
"""
from __future__ import annotations

import atexit
import http.client
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "conformance"))

from variants import free_port  # noqa: E402
from weedserver import WeedServer, _die_with_parent  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")

# --------------------------------------------------------------------------------------------
# Cleanup: every child and server this process starts


_CHILDREN: set[subprocess.Popen] = set()
_SERVERS: list = []
_LOCK = threading.Lock()


def _term_with_parent():  # runs in the child between fork and exec
    import weedserver

    if weedserver._PRCTL is not None:
        weedserver._PRCTL(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def popen(cmd: list[str], **kw) -> subprocess.Popen:
    """subprocess.Popen that the cleanup knows about (and that dies with this process)."""
    kw.setdefault("preexec_fn", _die_with_parent)
    proc = subprocess.Popen(cmd, **kw)
    with _LOCK:
        _CHILDREN.add(proc)
    return proc


def run(cmd: list[str], timeout: float | None = None, **kw) -> subprocess.CompletedProcess:
    """subprocess.run through popen(): output captured as text."""
    proc = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise
    finally:
        with _LOCK:
            _CHILDREN.discard(proc)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


class TempDir:
    """The bench's temp dir, removed by cleanup() (after the servers registered later are stopped)."""

    name = "temp dir"

    def __init__(self, path: Path, keep: bool = False):
        self.path, self.keep = path, keep

    def close(self) -> None:
        if self.keep:
            print(f"kept {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def register(server) -> None:
    with _LOCK:
        _SERVERS.append(server)


def cleanup() -> None:
    with _LOCK:
        children, servers = list(_CHILDREN), list(_SERVERS)
        _CHILDREN.clear()
        _SERVERS.clear()
    for proc in children:
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    for server in reversed(servers):
        try:
            server.close()
        except Exception as e:  # keep closing the others
            print(f"cleanup: {server.name}: {e}", file=sys.stderr)


def install_cleanup() -> None:
    atexit.register(cleanup)

    def on_signal(signum, _frame):
        signal.signal(signum, signal.SIG_IGN)  # a second ^C does not interrupt the cleanup
        print(f"\nbench: signal {signum}, stopping", file=sys.stderr)
        cleanup()
        os._exit(128 + signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)


# --------------------------------------------------------------------------------------------
# /proc


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (/proc/stat: user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / CLK_TCK


def own_cpu_seconds(live_pids: list[int]) -> float:
    """CPU time of this process, its reaped children and the live processes given."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime + cpu_seconds(live_pids)


def status_kib(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM), 0 when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def reset_peak_rss(pid: int) -> bool:
    """Resets VmHWM to the current RSS (`echo 5 > /proc/PID/clear_refs`, Linux ≥ 4.0)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def child_pids(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


class PeakSampler:
    """Samples VmRSS of some processes every `interval` s in a thread; `peak_kib[pid]` after stop()."""

    def __init__(self, pids: list[int], interval: float = 0.05):
        self.pids, self.interval = pids, interval
        self.peak_kib = {pid: 0 for pid in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for pid in self.pids:
                self.peak_kib[pid] = max(self.peak_kib[pid], status_kib(pid, "VmRSS"))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------
# Servers


def http_ok(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 1.0) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def wait_until(check, proc: subprocess.Popen, name: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
            raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")
        if check():
            return
        time.sleep(0.002)
    raise SystemExit(f"{name} did not answer within {timeout:.0f}s (log: {log})")


def launch(server, cmd: list[str], output: Path, probe_path: str, **popen_kw) -> float:
    """Starts `server`'s process (`server.proc`), its output appended to `output`, and waits for a
    200 on `probe_path`; returns (and sets) `server.startup_seconds`, from just before the start."""
    log = open(output, "ab")
    t0 = time.monotonic()
    server.proc = popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, **popen_kw)
    log.close()
    wait_until(lambda: http_ok(server.port, probe_path), server.proc, server.name, server.log_path)
    server.startup_seconds = time.monotonic() - t0
    return server.startup_seconds


class Mediagate:
    """`mediagate serve` on disk storage and SQLite in `base`, root keys from the environment."""

    name = "mediagate"

    def __init__(self, binary: Path, base: Path, access_key: str, secret_key: str, admin_token: str,
                 ready_path: str = "/_mediagate/ready"):
        self.binary, self.base = binary, base
        self.access_key, self.secret_key, self.admin_token = access_key, secret_key, admin_token
        self.ready_path = ready_path
        self.port = free_port()
        self.data = base / "data"
        self.log_path = base / "mediagate.log"
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        base.mkdir(parents=True, exist_ok=True)
        register(self)

    @property
    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc else []

    def start(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
        env.update(MEDIAGATE_ROOT_ACCESS_KEY=self.access_key, MEDIAGATE_ROOT_SECRET_KEY=self.secret_key,
                   MEDIAGATE_ADMIN_TOKEN=self.admin_token, LOG_LEVEL="warning")
        return launch(self, [str(self.binary), "serve", "--listen", f"127.0.0.1:{self.port}",
                             "--data-dir", str(self.data), "--storage", "disk"],
                      output=self.log_path, probe_path=self.ready_path, env=env)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def restart(self) -> float:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()

    def version(self) -> str:
        return self.binary.name


NGINX_CONF = """\
# bench/run.py: static files for the GET workloads, and /null/ (an empty 200 for any method, the
# request body read and discarded) to measure the load generator's own ceiling.
worker_processes {workers};
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    default_type application/octet-stream;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /null/ {{
            client_max_body_size 0;
            return 200 "";
        }}
    }}
}}
"""


class Nginx:
    """Debian's nginx in the foreground, with its own prefix, config, pid and logs in `base`."""

    name = "nginx"

    def __init__(self, base: Path, root: Path, probe_path: str, workers: str = "auto", binary: str = "nginx"):
        self.base, self.root, self.probe_path = base, root, probe_path
        self.binary = binary
        self.port = free_port()
        base.mkdir(parents=True, exist_ok=True)
        root.mkdir(parents=True, exist_ok=True)
        self.conf = base / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(workers=workers, d=base, port=self.port, root=root))
        # the workers run as `nobody`: they must reach the files through the temp dirs
        for d in [root, *root.parents]:
            if d == Path("/tmp") or d == Path("/"):
                break
            d.chmod(d.stat().st_mode | 0o755)
        self.log_path = base / "error.log"
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None
        register(self)

    @property
    def pids(self) -> list[int]:
        """Master and workers."""
        return [self.proc.pid] + child_pids(self.proc.pid) if self.proc else []

    def start(self) -> float:
        # SIGTERM (not SIGKILL) when the bench dies: the master then stops its workers; a process
        # group of its own so that stop() can end stragglers.
        return launch(self, [self.binary, "-p", str(self.base), "-c", str(self.conf), "-e", str(self.log_path)],
                      output=self.base / "stderr.log", probe_path=self.probe_path,
                      preexec_fn=_term_with_parent, start_new_session=True)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)  # graceful: the master waits for its workers
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # workers left behind, if any
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)

    def restart(self) -> float:
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()


class Weed:
    """conformance/weedserver.py's `weed mini` (all components in one process)."""

    name = "seaweedfs"

    def __init__(self, base: Path):
        # die_with_parent: PR_SET_PDEATHSIG is per thread; the bench starts weed from its main thread
        self.server = WeedServer(base=base, die_with_parent=True)
        register(self)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pids(self) -> list[int]:
        return [self.server.pid] + child_pids(self.server.pid) if self.server.pid else []

    def start(self) -> float:
        self.server.start()
        return self.server.startup_seconds

    def restart(self) -> float:
        self.server.restart()
        return self.server.startup_seconds

    def close(self) -> None:
        self.server.close()
