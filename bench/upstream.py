#!/usr/bin/env python3
"""Upstream pass-through benchmark (issue 5): GET and PUT through a `--storage s3` gateway against
the same requests sent straight to its upstream (SeaweedFS `weed mini`, the stand-in for R2),
measured in the same run on the same machine.

    bench/upstream.py [--binary .build/release/mediagate] [--rounds 20] [--clients 4]

One `weed mini` (conformance/weedserver.py) and one gateway (`--storage s3`, default SQLite
metadata) on loopback. Both targets get exactly the same requests from the same minimal client:
http.client on a kept-alive connection per thread, SigV4 by conformance/s3util.Signer, path
style, the payload's SHA-256 computed once beforehand and signed (so the gateway streams uploads
upstream instead of staging them, and the client hashes nothing while timed). GETs read objects
that were PUT through the gateway: the same bucket and key upstream (pass-through), so both
targets serve the same bytes. Sizes 4 KiB, 1 MiB and 16 MiB; sequentially (one client), then
with `--clients` concurrent clients; gateway and direct requests alternate round by round.

Reported per case: median and p90 latency of each target, and ratio = gateway / direct
(1.00× = no overhead), plus aggregate throughput for the concurrent cases. The numbers are
printed, never asserted. Client, gateway and weed share this machine's cores.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import math
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "conformance"))

from s3util import Signer, key_path, wire_query  # noqa: E402  (the suite's own SigV4 signer)
from weedserver import WeedServer  # noqa: E402
from variants import free_port, wait_ready  # noqa: E402  (bench/ is this script's directory)

REGION = "us-east-1"
SIZES = [("4 KiB", 4 << 10), ("1 MiB", 1 << 20), ("16 MiB", 16 << 20)]
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def default_binary() -> Path:
    release = REPO / ".build" / "release" / "mediagate"
    return release if release.is_file() else REPO / ".build" / "debug" / "mediagate"


def newest_source_mtime() -> float:
    return max((p.stat().st_mtime for p in (REPO / "Sources").rglob("*.swift")), default=0.0)


class Target:
    """An S3 endpoint and its keys; one kept-alive connection per thread."""

    def __init__(self, name: str, port: int, access_key: str, secret_key: str):
        self.name, self.port = name, port
        self.host = f"127.0.0.1:{port}"
        self.signer = Signer(access_key, secret_key, REGION)
        self.local = threading.local()

    def connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        return conn

    def request(self, method: str, path: str, body: bytes = b"", sha256: str = EMPTY_SHA256,
                query: list[tuple[str, str]] | None = None,
                content_type: str = "application/octet-stream") -> tuple[int, bytes]:
        headers = {"host": self.host}
        if method == "PUT":
            headers["content-type"] = content_type
        query = list(query or [])
        self.signer.sign_headers(method, path, query, headers, sha256)
        target = path + ("?" + wire_query(query) if query else "")
        for attempt in range(2):
            conn = self.connection()
            try:
                conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                if method == "PUT":
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a kept-alive connection the server closed meanwhile: once more on a new one
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def check(self, method: str, path: str, body: bytes = b"", sha256: str = EMPTY_SHA256,
              length: int | None = None, query: list[tuple[str, str]] | None = None,
              content_type: str = "application/octet-stream") -> bytes:
        status, data = self.request(method, path, body, sha256, query=query, content_type=content_type)
        if status != 200 or (length is not None and len(data) != length):
            raise SystemExit(f"{self.name}: {method} {path} → {status}, {len(data)} bytes: {data[:300]!r}")
        return data


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(default_binary()))
    parser.add_argument("--rounds", type=int, default=20,
                        help="rounds per case for 4 KiB and 1 MiB; 16 MiB gets a third (at least 3)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the concurrent cases")
    args = parser.parse_args()

    binary = Path(args.binary)
    if not binary.is_file():
        raise SystemExit(f"no mediagate binary at {binary} (build it, or pass --binary)")
    stale = binary.stat().st_mtime < newest_source_mtime()
    if stale:
        print(f"warning: {binary} is older than the newest file in Sources/", file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="bench-upstream-"))
    weed = WeedServer(base=work / "weed")
    proc = None
    try:
        weed.start()
        access, secret = "BENCH" + secrets.token_hex(6).upper(), secrets.token_hex(20)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
        env.update(MEDIAGATE_ROOT_ACCESS_KEY=access, MEDIAGATE_ROOT_SECRET_KEY=secret,
                   MEDIAGATE_ADMIN_TOKEN=secrets.token_hex(16), MALLOC_ARENA_MAX="2", LOG_LEVEL="warning",
                   MEDIAGATE_UPSTREAM_SECRET_KEY=weed.secret_key)
        log = open(work / "server.log", "wb")
        proc = subprocess.Popen(
            [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(work / "data"),
             "--storage", "s3", "--upstream-endpoint", weed.endpoint, "--upstream-region", weed.region,
             "--upstream-access-key", weed.access_key],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_ready(port, proc, work / "server.log",
                   hint="(a binary built before --storage s3 existed? try --binary .build/debug/mediagate)")

        gateway = Target("gateway", port, access, secret)
        direct = Target("direct", weed.port, weed.access_key, weed.secret_key)
        bucket = "bench-" + secrets.token_hex(4)
        gateway.check("PUT", key_path(bucket))

        payloads = {}
        for label, size in SIZES:
            data = os.urandom(size)
            payloads[size] = (data, hashlib.sha256(data).hexdigest())
            # the objects both targets GET: written through the gateway, read as the same key upstream
            gateway.check("PUT", key_path(bucket, f"get/{size}"), data, payloads[size][1])
            direct.check("GET", key_path(bucket, f"get/{size}"), length=size)

        print(f"binary {binary}{'  (OLDER than the newest file in Sources/)' if stale else ''}")
        print(f"weed {weed.endpoint} (weed mini, started in {weed.startup_seconds:.2f}s), gateway "
              f"127.0.0.1:{port}, {os.cpu_count()} cores shared by client, gateway and weed")
        print(f"rounds: {args.rounds} (16 MiB: {max(3, args.rounds // 3)}), concurrent clients: {args.clients}; "
              f"latency per request in ms, ratio = gateway / direct")
        header = (f"{'case':<24}{'gw p50':>9}{'gw p90':>9}{'dir p50':>9}{'dir p90':>9}"
                  f"{'p50 ×':>8}{'p90 ×':>8}{'gw MB/s':>9}{'dir MB/s':>9}")
        print(header)
        print("-" * len(header))

        ratios: list[tuple[str, float]] = []
        pool = ThreadPoolExecutor(args.clients)
        counter = iter(range(10 ** 9))
        lock = threading.Lock()

        def one(target: Target, op: str, size: int) -> float:
            data, digest = payloads[size]
            if op == "GET":
                path = key_path(bucket, f"get/{size}")
                t = time.perf_counter()
                target.check("GET", path, length=size)
            else:
                with lock:
                    n = next(counter)
                path = key_path(bucket, f"put/{target.name}/{size}/{n}")
                t = time.perf_counter()
                target.check("PUT", path, data, digest)
            return time.perf_counter() - t

        for clients in (1, args.clients):
            for label, size in SIZES:
                for op in ("GET", "PUT"):
                    rounds = args.rounds if size < (16 << 20) else max(3, args.rounds // 3)
                    timings = {"gateway": [], "direct": []}
                    walls = {"gateway": 0.0, "direct": 0.0}
                    # warm-up: connections open, code paths touched
                    for target in (gateway, direct):
                        list(pool.map(lambda _: one(target, op, size), range(clients)))
                    for r in range(rounds):
                        order = (gateway, direct) if r % 2 == 0 else (direct, gateway)
                        for target in order:
                            t = time.perf_counter()
                            timings[target.name] += list(pool.map(lambda _: one(target, op, size), range(clients)))
                            walls[target.name] += time.perf_counter() - t
                    g, d = timings["gateway"], timings["direct"]
                    g50, g90, d50, d90 = (statistics.median(g), percentile(g, 0.9), statistics.median(d),
                                          percentile(d, 0.9))
                    mb = size * rounds * clients / 1e6
                    case = f"{op} {label} ×{clients}"
                    ratios.append((case, g50 / d50))
                    print(f"{case:<24}{g50 * 1e3:>9.2f}{g90 * 1e3:>9.2f}{d50 * 1e3:>9.2f}{d90 * 1e3:>9.2f}"
                          f"{g50 / d50:>7.2f}×{g90 / d90:>7.2f}×{mb / walls['gateway']:>9.1f}{mb / walls['direct']:>9.1f}",
                          flush=True)
        pool.shutdown()
        geo = math.exp(statistics.fmean(math.log(r) for _, r in ratios))
        worst = max(ratios, key=lambda x: x[1])
        best = min(ratios, key=lambda x: x[1])
        print(f"summary: gateway/direct median latency {geo:.2f}× (geometric mean of {len(ratios)} cases), "
              f"from {best[1]:.2f}× ({best[0]}) to {worst[1]:.2f}× ({worst[0]}); binary {binary.parent.name}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        weed.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
