"""Load generators for bench/run.py. Every request is authenticated the way an SDK or a browser
does it: presigned URLs made by conformance/s3util.Signer (wrk, curl), or a SigV4 Authorization
header per request by the same signer (the Python generator, bench/upstream.Target).

- wrk (Debian's `wrk`): a fixed number of kept-alive connections for a fixed time, cycling through
  a file of presigned request targets (a Lua script; PUT bodies from a file).
- Python: one thread and one kept-alive http.client connection per concurrent client.
- curl: one transfer of a large object (presigned), timed by curl itself.

Each run returns a LoadResult with the client's own CPU time, so that a report can tell when the
generator, not the server, is the limit.
"""
from __future__ import annotations

import json
import resource
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import harness
from s3util import Signer
from upstream import Target

WRK_LUA = r"""
-- bench/loadgen.py: cycles through presigned request targets; args: FILE METHOD BODYFILE|- THREADS
local paths, idx, wrapped = {}, 0, 0
local method, body, headers = "GET", nil, {}
local threads, nextid = {}, 0

function setup(thread)
  thread:set("tid", nextid)
  nextid = nextid + 1
  table.insert(threads, thread)
end

function init(args)
  method = args[2]
  local nthreads = tonumber(args[4])
  local i = 0
  for line in io.lines(args[1]) do
    if i % nthreads == tid then paths[#paths + 1] = line end
    i = i + 1
  end
  if #paths == 0 then
    for line in io.lines(args[1]) do paths[#paths + 1] = line end
  end
  if args[3] ~= "-" then
    local f = assert(io.open(args[3], "rb"))
    body = f:read("*a")
    f:close()
    headers["Content-Type"] = "application/octet-stream"
  end
end

function request()
  idx = idx + 1
  if idx > #paths then
    idx = 1
    wrapped = wrapped + 1
  end
  return wrk.format(method, paths[idx], headers, body)
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), w))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int              # non-2xx answers, connection errors, timeouts
    client_cpu: float        # CPU seconds the generator used
    server_cpu: float        # CPU seconds the server's processes used
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    wrapped: int = 0         # times a connection went through its list of targets again
    detail: str = ""

    @property
    def ops(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_us_per_op(self) -> float:
        return self.server_cpu / self.requests * 1e6 if self.requests else 0.0

    @property
    def client_cores(self) -> float:
        return self.client_cpu / self.seconds if self.seconds else 0.0


class CachedSigner(Signer):
    """conformance/s3util.Signer with the day's signing key kept (as SDKs keep it)."""

    def signing_key(self, date: str) -> bytes:
        cache = self.__dict__.setdefault("_keys", {})
        day = date[:8]
        if day not in cache:
            cache[day] = super().signing_key(date)
        return cache[day]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Wrk:
    def __init__(self, work: Path, binary: str | None = None):
        self.binary = binary or shutil.which("wrk")
        if not self.binary:
            raise RuntimeError("wrk not found")
        self.work = work
        self.script = work / "presigned.lua"
        self.script.write_text(WRK_LUA)
        self.counter = 0

    def version(self) -> str:
        out = harness.run([self.binary, "--version"])
        return (out.stdout or out.stderr).splitlines()[0].strip()

    def run(self, port: int, method: str, targets: list[str], body_file: Path | None, connections: int,
            seconds: int, server_pids: list[int]) -> LoadResult:
        self.counter += 1
        listing = self.work / f"targets-{self.counter}.txt"
        listing.write_text("\n".join(targets) + "\n")
        threads = max(1, min(2, connections))
        cmd = [self.binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(self.script), f"http://127.0.0.1:{port}/", "--", str(listing), method,
               str(body_file) if body_file else "-", str(threads)]
        s0, c0 = harness.cpu_seconds(server_pids), children_cpu()
        out = harness.run(cmd, timeout=seconds + 120)
        s1, c1 = harness.cpu_seconds(server_pids), children_cpu()
        listing.unlink()
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
        d = json.loads(line[len("WRKJSON "):])
        errors = d["status"] + d["connect"] + d["read"] + d["write"] + d["timeout"]
        return LoadResult(requests=d["requests"], seconds=d["duration_us"] / 1e6, errors=errors,
                          client_cpu=c1 - c0, server_cpu=s1 - s0, p50_ms=d["p50_us"] / 1e3,
                          p99_ms=d["p99_us"] / 1e3, wrapped=d["wrapped"],
                          detail=(f"status {d['status']}, connect {d['connect']}, read {d['read']}, "
                                  f"write {d['write']}, timeout {d['timeout']}" if errors else ""))


def python_load(target: Target, method: str, paths: list[str], body: bytes, sha256: str, connections: int,
                seconds: float, server_pids: list[int]) -> LoadResult:
    """`connections` threads, each on its own kept-alive connection, each request SigV4-signed in
    the Authorization header (payload SHA-256 computed once beforehand, as upstream.py does)."""
    deadline = [0.0]
    counts, errors, latencies = [0] * connections, [0] * connections, [[] for _ in range(connections)]
    start = threading.Barrier(connections + 1)

    def worker(i: int) -> None:
        mine = paths[i::connections] or paths
        j = 0
        start.wait()
        while time.monotonic() < deadline[0]:
            path = mine[j % len(mine)]
            j += 1
            t = time.perf_counter()
            try:
                status, _ = target.request(method, path, body, sha256)
            except OSError:
                status = 0
            latencies[i].append(time.perf_counter() - t)
            counts[i] += 1
            if status != 200:
                errors[i] += 1

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(connections)]
    for w in workers:
        w.start()
    s0, c0 = harness.cpu_seconds(server_pids), time.process_time()
    t0 = time.monotonic()
    deadline[0] = t0 + seconds
    start.wait()
    for w in workers:
        w.join()
    wall = time.monotonic() - t0
    s1, c1 = harness.cpu_seconds(server_pids), time.process_time()
    lat = sorted(x for xs in latencies for x in xs)
    pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3) if lat else (lambda q: 0.0)
    return LoadResult(requests=sum(counts), seconds=wall, errors=sum(errors), client_cpu=c1 - c0,
                      server_cpu=s1 - s0, p50_ms=pick(0.5), p99_ms=pick(0.99),
                      detail=f"{sum(errors)} non-200 answers" if sum(errors) else "")


@dataclass
class Transfer:
    status: int
    size: int
    seconds: float
    server_cpu: float

    @property
    def mb_per_s(self) -> float:
        return self.size / self.seconds / 1e6 if self.seconds else 0.0


def curl(method: str, url: str, upload: Path | None = None, server_pids: list[int] = (),
         headers: dict[str, str] | None = None) -> Transfer:
    """One transfer with curl (C, as fast as the wire), presigned or with the signed `headers`:
    the body goes to /dev/null, or comes from `upload` (PUT, no `Expect: 100-continue` round
    trip). Timed by curl's time_total."""
    cmd = ["curl", "-sS", "-o", "/dev/null", "--max-time", "900"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if method == "PUT":
        cmd += ["-T", str(upload), "-H", "Expect:", "-H", "Content-Type: application/octet-stream",
                "-w", "%{http_code} %{size_upload} %{time_total}"]
    else:
        cmd += ["-w", "%{http_code} %{size_download} %{time_total}"]
    cmd.append(url)
    s0 = harness.cpu_seconds(list(server_pids))
    out = harness.run(cmd, timeout=960)
    s1 = harness.cpu_seconds(list(server_pids))
    try:
        code, size, total = out.stdout.split()
        return Transfer(int(code), int(float(size)), float(total), s1 - s0)
    except ValueError:
        raise RuntimeError(f"curl {method} failed ({out.returncode}): {out.stderr.strip()}") from None
