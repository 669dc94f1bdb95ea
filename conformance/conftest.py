"""Fixtures of the black-box conformance suite.

Target: the real binary by default (`$MEDIAGATE_BIN` or `<repo>/.build/debug/mediagate`), or moto's
S3 server with CONFORMANCE_TARGET=moto, which exists only to debug the tests themselves.

Markers:
  slow            long tests (run by default)
  mediagate_only  checks that only make sense against mediagate (kill -9, VmHWM, data dir, ...);
                  skipped under moto only, never under mediagate
  xfail_moto(reason)  a place where moto deviates from AWS S3: xfail under moto only
  seaweedfs_deviation(reason)  SeaweedFS, the upstream stand-in under CONFORMANCE_STORAGE=s3, differs
                  from AWS S3 / R2 here (conformance/SEAWEEDFS_NOTES.md): xfail under s3 storage only
  upstream_gap(reason)  a feature --storage s3 does not have yet (docs/storage.md, "Limits"):
                  xfail under CONFORMANCE_STORAGE=s3, strict (a pass means the mark is stale)
  disk_only(reason)   checks of the disk store itself (files in the data dir, fsync and kill -9 of
                  disk writes): skipped, with the reason, under CONFORMANCE_STORAGE=s3

CONFORMANCE_STORAGE=s3 runs every gateway with `--storage s3` against its own SeaweedFS.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TARGET = os.environ.get("CONFORMANCE_TARGET", "mediagate").strip().lower()
if TARGET not in ("mediagate", "moto"):
    raise SystemExit(f"CONFORMANCE_TARGET must be 'mediagate' or 'moto', not {TARGET!r}")
IS_MOTO = TARGET == "moto"
# Where the gateway keeps object bytes: "disk" (default), or "s3": every gateway gets its own
# SeaweedFS (`weed mini`, conformance/weedserver.py) as upstream, the stand-in for Cloudflare R2.
STORAGE = os.environ.get("CONFORMANCE_STORAGE", "disk").strip().lower()
if STORAGE not in ("disk", "s3"):
    raise SystemExit(f"CONFORMANCE_STORAGE must be 'disk' or 's3', not {STORAGE!r}")
IS_UPSTREAM = STORAGE == "s3" and not IS_MOTO
REGION = "us-east-1"
STARTUP_TIMEOUT = float(os.environ.get("CONFORMANCE_STARTUP_TIMEOUT", "60"))

# Keep the developer's AWS configuration out of every client, in-process and in subprocesses.
_AWS_HOME = Path(tempfile.mkdtemp(prefix="conformance-aws-"))
(_AWS_HOME / "config").write_text("")
(_AWS_HOME / "credentials").write_text("")
for _var in list(os.environ):
    if _var.startswith("AWS_") or _var.startswith("BOTO_"):
        del os.environ[_var]
os.environ["AWS_CONFIG_FILE"] = str(_AWS_HOME / "config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(_AWS_HOME / "credentials")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

# `BUCKET.localhost` must resolve for virtual-host style; glibc here does not do it.
_orig_getaddrinfo = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _orig_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
SITECUSTOMIZE = '''\
import socket as _s
_orig = _s.getaddrinfo
def _gai(host, *a, **k):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _orig(host, *a, **k)
_s.getaddrinfo = _gai
'''


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test (runs by default)")
    config.addinivalue_line("markers", "mediagate_only: meaningful only against mediagate; skipped under moto")
    config.addinivalue_line("markers", "xfail_moto(reason): moto deviates from AWS S3 here; xfail under moto only")
    config.addinivalue_line("markers", "disk_only(reason): checks the disk store itself; skipped under CONFORMANCE_STORAGE=s3")
    config.addinivalue_line("markers", "seaweedfs_deviation(reason): SeaweedFS differs from S3 here; xfail under CONFORMANCE_STORAGE=s3")
    config.addinivalue_line("markers", "upstream_gap(reason): not there in --storage s3 yet; strict xfail under CONFORMANCE_STORAGE=s3")


def pytest_collection_modifyitems(config, items):
    if IS_UPSTREAM:
        for item in items:
            m = item.get_closest_marker("disk_only")
            if m:
                reason = m.kwargs.get("reason") or (m.args[0] if m.args else "checks the disk store")
                item.add_marker(pytest.mark.skip(reason=f"disk storage only: {reason}"))
            m = item.get_closest_marker("seaweedfs_deviation")
            if m:
                reason = m.kwargs.get("reason") or (m.args[0] if m.args else "SeaweedFS differs from S3")
                item.add_marker(pytest.mark.xfail(reason=f"SeaweedFS upstream: {reason}", strict=False))
            m = item.get_closest_marker("upstream_gap")
            if m:
                reason = m.kwargs.get("reason") or (m.args[0] if m.args else "not in upstream mode yet")
                item.add_marker(pytest.mark.xfail(reason=f"upstream mode gap: {reason}", strict=True))
    if not IS_MOTO:
        return
    run_all = os.environ.get("CONFORMANCE_RUN_MEDIAGATE_ONLY") == "1"  # debugging the tests themselves
    for item in items:
        if item.get_closest_marker("mediagate_only") and not run_all:
            item.add_marker(pytest.mark.skip(reason="mediagate-specific check (CONFORMANCE_TARGET=moto)"))
        m = item.get_closest_marker("xfail_moto")
        if m:
            reason = m.kwargs.get("reason") or (m.args[0] if m.args else "moto deviates from S3")
            item.add_marker(pytest.mark.xfail(reason=f"moto: {reason}", strict=False))


def pytest_report_header(config):
    return (f"conformance target: {TARGET} ({mediagate_binary() if not IS_MOTO else 'moto_server'}), "
            f"storage: {STORAGE}")


# --------------------------------------------------------------------------------------------
# Server processes


def mediagate_binary() -> Path:
    return Path(os.environ.get("MEDIAGATE_BIN") or REPO / ".build" / "debug" / "mediagate")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _random_key(n: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


class Credentials:
    def __init__(self):
        self.access_key = "MG" + _random_key(18, string.ascii_uppercase + string.digits)
        self.secret_key = _random_key(40, string.ascii_letters + string.digits + "/+")
        self.admin_token = secrets.token_hex(24)


CREDS = Credentials()


def make_cert(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True, timeout=60)
    return cert, key


class Server:
    """One gateway process (or moto) with its own data dir, killed at the end."""

    def __init__(self, name: str, mode: str, base: Path, cert: tuple[Path, Path] | None = None):
        assert mode in ("http", "https", "vhost")
        self.name, self.mode, self.base = name, mode, base
        self.creds = CREDS
        # The data dir sits deep inside a sandbox so that a key escaping it by `..` segments lands
        # somewhere the suite can see.
        self.sandbox = base / "sandbox"
        self.data_dir = self.sandbox / "l1" / "l2" / "l3" / "l4" / "l5" / "l6" / "data"
        self.cwd = self.sandbox / "cwd"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.cert, self.key = cert if cert else (None, None)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = base / "server.log"
        self.starts = 0
        self.upstream = None  # the WeedServer behind this gateway under CONFORMANCE_STORAGE=s3

    # addressing -------------------------------------------------------------------------
    @property
    def tls(self) -> bool:
        return self.mode == "https"

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def host(self) -> str:
        return "localhost" if self.mode == "vhost" else "127.0.0.1"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.hostport}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # lifecycle --------------------------------------------------------------------------
    def command(self) -> list[str]:
        if IS_MOTO:
            cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
            if self.tls:
                cmd += ["-c", str(self.cert), "-k", str(self.key)]
            return cmd
        binary = mediagate_binary()
        cmd = [str(binary), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        if self.tls:
            cmd += ["--tls-cert", str(self.cert), "--tls-key", str(self.key)]
        if self.mode == "vhost":
            cmd += ["--domain", "localhost"]
        if self.upstream is not None:
            cmd += ["--storage", "s3", "--upstream-endpoint", self.upstream.endpoint,
                    "--upstream-region", self.upstream.region,
                    "--upstream-access-key", self.upstream.access_key]
            # the secret goes by environment: not visible in `ps`, and safe when it starts with `-`
        return cmd

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
        env["MEDIAGATE_ROOT_ACCESS_KEY"] = self.creds.access_key
        env["MEDIAGATE_ROOT_SECRET_KEY"] = self.creds.secret_key
        env["MEDIAGATE_ADMIN_TOKEN"] = self.creds.admin_token
        if self.upstream is not None:
            env["MEDIAGATE_UPSTREAM_SECRET_KEY"] = self.upstream.secret_key
        if IS_MOTO:
            env["S3_IGNORE_SUBDOMAIN_BUCKETNAME"] = "false" if self.mode == "vhost" else "true"
        return env

    def start(self, reuse_port: bool = False):
        if not IS_MOTO:
            binary = mediagate_binary()
            if not (binary.is_file() and os.access(binary, os.X_OK)):
                raise RuntimeError(f"mediagate binary not found at {binary} (set MEDIAGATE_BIN or build it)")
        if IS_UPSTREAM and self.upstream is None:
            from weedserver import WeedServer

            # weed's unix sockets need a short path: its own temp dir, not the sandbox
            self.upstream = WeedServer().start()
        last_error = None
        for attempt in range(3):
            # a restart keeps its port when it can (clients made before stay valid), else moves
            if not (reuse_port and self.port and attempt < 2):
                self.port = free_port()
            self.starts += 1
            log = open(self.log_path, "ab")
            log.write(f"\n===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd, env=self.environment(),
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            log.close()
            try:
                self.wait_ready()
                return self
            except RuntimeError as e:
                last_error = e
                self.stop()
                if reuse_port:
                    time.sleep(1.0)
        raise RuntimeError(f"{self.name}: server did not become ready: {last_error}\n--- log tail ---\n"
                           + self.log_tail())

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        ctx = ssl.create_default_context(cafile=str(self.cert)) if self.tls else None
        url = f"{self.scheme}://127.0.0.1:{self.port}/_mediagate/ready"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited with status {self.proc.returncode}")
            if IS_MOTO:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        pass
                    urllib.request.urlopen(f"{self.scheme}://127.0.0.1:{self.port}/moto-api/", timeout=2,
                                           context=ctx)
                    return
                except Exception:
                    time.sleep(0.1)
                    continue
            try:
                with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                    if r.status == 200:
                        return
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"not ready after {STARTUP_TIMEOUT:.0f}s")

    def close(self):
        """Stops the gateway and its upstream, if it has one."""
        self.stop()
        if self.upstream is not None:
            self.upstream.close(keep_logs=True)
            self.upstream = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc = None

    def kill9(self):
        assert self.proc is not None and self.proc.poll() is None, "server is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def restart(self):
        return self.start(reuse_port=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_crash(self, n: int = 25) -> str:
        """The last start's log up to the crash headline, without the long backtrace."""
        text = self.log_tail(400)
        last = text.rsplit("===== start #", 1)[-1]
        lines = last.splitlines()
        keep = []
        for line in lines:
            keep.append(line)
            if "Program crashed" in line or "Fatal error" in line:
                break
        frames = [l for l in lines if "/work/main/Sources/" in l][:8]
        return "\n".join(keep[-n:] + ["--- frames in Sources/ ---"] + frames)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # clients ----------------------------------------------------------------------------
    def client(self, addressing: str | None = None, **config_kwargs):
        import boto3
        from botocore.config import Config

        s3cfg = {}
        if addressing:
            s3cfg["addressing_style"] = addressing
        elif self.mode == "vhost":
            s3cfg["addressing_style"] = "virtual"
        cfg = Config(signature_version="s3v4", s3=s3cfg or None,
                     retries={"total_max_attempts": 1, "mode": "standard"},
                     connect_timeout=10, read_timeout=120, **config_kwargs)
        session = boto3.session.Session(aws_access_key_id=self.creds.access_key,
                                        aws_secret_access_key=self.creds.secret_key, region_name=REGION)
        return session.client("s3", endpoint_url=self.endpoint, config=cfg,
                              verify=str(self.cert) if self.tls else None)

    def raw(self, **kw):
        from s3util import RawClient, Signer

        return RawClient(host=self.hostport, port=self.port, signer=Signer(self.creds.access_key,
                                                                          self.creds.secret_key, REGION),
                         tls=self.tls, ca_file=str(self.cert) if self.cert else None, **kw)

    def tool_env(self, home: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["AWS_ACCESS_KEY_ID"] = self.creds.access_key
        env["AWS_SECRET_ACCESS_KEY"] = self.creds.secret_key
        env["AWS_DEFAULT_REGION"] = REGION
        env["HOME"] = str(home)
        if self.mode == "vhost":
            site = home / "sitecustomize"
            site.mkdir(parents=True, exist_ok=True)
            (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
            env["PYTHONPATH"] = str(site) + os.pathsep + env.get("PYTHONPATH", "")
        return env


class ServerPool:
    def __init__(self, base: Path):
        self.base = base
        self.servers: dict[str, Server] = {}
        self._cert = None

    def cert(self):
        if self._cert is None:
            self._cert = make_cert(self.base / "tls")
        return self._cert

    def get(self, mode: str) -> Server:
        s = self.servers.get(mode)
        if s is not None and not s.alive():
            s.restart()  # its death was reported by the test during which it happened
        if s is None:
            s = Server(f"shared-{mode}", mode, self.base / f"shared-{mode}",
                       cert=self.cert() if mode == "https" else None)
            self.servers[mode] = s
            s.start()
        return s

    def private(self, name: str, mode: str = "http") -> Server:
        base = self.base / f"private-{name}-{uuid.uuid4().hex[:6]}"
        return Server(name, mode, base, cert=self.cert() if mode == "https" else None)

    def close(self):
        for s in self.servers.values():
            s.close()


_POOL: "ServerPool | None" = None


@pytest.fixture(scope="session")
def pool(tmp_path_factory):
    global _POOL
    p = ServerPool(tmp_path_factory.mktemp("servers"))
    _POOL = p
    yield p
    p.close()
    _POOL = None
    for s in p.servers.values():
        shutil.rmtree(s.sandbox, ignore_errors=True)  # logs stay for a post-mortem


@pytest.fixture(autouse=True)
def _shared_servers_survive(request):
    """A shared server that dies during a test fails that test, with its log."""
    yield
    if _POOL is None:
        return
    dead = []
    for mode, s in _POOL.servers.items():
        if s.proc is not None and s.proc.poll() is not None:
            dead.append(f"the shared {mode} server exited ({s.proc.returncode}) during this test; log:\n"
                        + s.log_crash())
            s.proc = None
            s.restart()  # same port and data dir, so the session's clients keep working
    if dead:
        pytest.fail("\n".join(dead), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _POOL is not None and not IS_MOTO:
        for mode, s in _POOL.servers.items():
            report.sections.append((f"server log tail ({mode})", s.log_tail(10)))
    return report


@pytest.fixture(scope="session")
def http_server(pool) -> Server:
    return pool.get("http")


@pytest.fixture(scope="session")
def https_server(pool) -> Server:
    return pool.get("https")


@pytest.fixture(scope="session")
def vhost_server(pool) -> Server:
    return pool.get("vhost")


@pytest.fixture
def private_server(pool, request):
    """A fresh server of its own (for kill -9 / restart tests); stopped at the end."""
    servers = []

    def make(mode: str = "http") -> Server:
        s = pool.private(request.node.name[:40].replace("[", "-").replace("]", ""), mode)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()
        shutil.rmtree(s.sandbox, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Clients and buckets


@pytest.fixture(scope="session")
def s3(http_server):
    """boto3 with default settings (CRC32 headers over HTTP, path style because the host is an IP)."""
    return http_server.client()


@pytest.fixture(scope="session")
def s3_path(http_server):
    return http_server.client(addressing="path")


@pytest.fixture(scope="session")
def s3_tls(https_server):
    """boto3 over HTTPS: sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with CRC trailers."""
    return https_server.client()


@pytest.fixture(scope="session")
def s3_vhost(vhost_server):
    return vhost_server.client(addressing="virtual")


@pytest.fixture(scope="session")
def raw(http_server):
    return http_server.raw()


def unique_bucket_name(prefix: str = "cf") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def empty_bucket(client, bucket: str):
    try:
        for _ in range(50):
            uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            for u in uploads:
                client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
            resp = client.list_objects_v2(Bucket=bucket)
            keys = [o["Key"] for o in resp.get("Contents", [])]
            for k in keys:
                client.delete_object(Bucket=bucket, Key=k)
            if not keys and not uploads:
                break
        client.delete_bucket(Bucket=bucket)
    except Exception:  # best effort: the server may be the thing that failed
        pass


class BucketFactory:
    def __init__(self):
        self.made: list[tuple[object, str]] = []

    def __call__(self, client, prefix: str = "cf") -> str:
        name = unique_bucket_name(prefix)
        client.create_bucket(Bucket=name)
        self.made.append((client, name))
        return name

    def cleanup(self):
        for client, name in self.made:
            empty_bucket(client, name)


@pytest.fixture
def make_bucket():
    f = BucketFactory()
    yield f
    f.cleanup()


@pytest.fixture
def bucket(s3, make_bucket) -> str:
    return make_bucket(s3)


class Target:
    """A server plus a boto3 client for it; `mode` is http or https."""

    def __init__(self, server: Server, client, bucket: str):
        self.server, self.client, self.bucket, self.mode = server, client, bucket, server.mode

    def __repr__(self):
        return f"Target({self.mode})"


@pytest.fixture(params=["http", "https"])
def tgt(request, pool, make_bucket) -> Target:
    """Parametrized over HTTP (checksum headers, signed payload) and HTTPS (aws-chunked trailers)."""
    server = pool.get(request.param)
    client = server.client()
    return Target(server, client, make_bucket(client))


@pytest.fixture(params=["http", "https", "vhost"])
def tgt3(request, pool, make_bucket) -> Target:
    server = pool.get(request.param)
    client = server.client()
    return Target(server, client, make_bucket(client))


# --------------------------------------------------------------------------------------------
# Helpers shared by tests


def client_error(excinfo) -> tuple[int, str, dict]:
    e = excinfo.value
    return (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"),
            e.response["Error"])


def run_tool(args: list[str], env: dict[str, str], timeout: float = 180, check: bool = True,
             input: bytes | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, env=env, capture_output=True, timeout=timeout, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\nstdout: "
                             f"{proc.stdout.decode(errors='replace')[-3000:]}\nstderr: "
                             f"{proc.stderr.decode(errors='replace')[-3000:]}")
    return proc


def which_or_fail(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is not installed (run scripts/setup.sh)")
    return path


def tree_snapshot(root: Path, exclude: Path | None = None) -> dict[str, tuple[int, int]]:
    """Relative path → (size, mtime_ns) for every file and dir under root, outside `exclude`."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if exclude is not None and (d == exclude or exclude in d.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = d / name
            if exclude is not None and p == exclude:
                continue
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            snap[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns if p.is_file() else 0)
    return snap


def dir_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            try:
                total += (Path(dirpath) / f).lstat().st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def xfail_if_moto(reason: str):
    """Imperative form of xfail_moto, for one parameter combination."""
    if IS_MOTO:
        pytest.xfail(f"moto: {reason}")
