#!/usr/bin/env python3
"""Variant latency benchmark (issue 4): first reads against `vipsthumbnail`, cached reads against
a plain GET of an object of the same size, measured in the same run on the same machine.

    bench/variants.py [--binary .build/release/mediagate] [--rounds 15]

For each case, every round uploads `photo-large.jpg` to a fresh `…/original.jpg` and times the
first GET of the variant (derive + store + serve), then times `vipsthumbnail` making the same
size and format from the same file (a process per run, as the CLI is used), with libvips'
default threads and with one thread per image (how mediagate runs it). Cached reads: the
variant is read again, alternating with a GET of a plain object of exactly its size; each is
read once untimed first, and which of the two goes first alternates from pair to pair (the
first request after the `vipsthumbnail` processes takes twice as long, whichever it is: measured
in bench/PROFILE.md, "Session 6"). Reported:
medians, and ratio = mediagate / reference (targets: first read ≤ 1.0×, cached ≤ 1.1×).
The numbers are printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus"
SOURCE = CORPUS / "photo-large.jpg"

# (variant name, vipsthumbnail size and output options; same encoder settings as mediagate's)
CASES = [
    ("thumb-400.jpg", "400x", "out.jpg[Q=82,optimize_coding,strip]"),
    ("main_desktop.webp", "1600x", "out.webp[Q=80,effort=4,strip]"),
    ("thumbnail_small.avif", "160x", "out.avif[Q=55,compression=av1,effort=2,strip]"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, log: Path | None = None, hint: str = "") -> None:
    """Until mediagate answers /_mediagate/ready; on exit, the end of `log` and `hint` explain why."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:]) if log else ""
            raise SystemExit(f"mediagate exited with {proc.returncode}" + (f":\n{tail}" if tail else "") + (f"\n{hint}" if hint else ""))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_mediagate/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("mediagate did not become ready")


def vipsthumbnail_seconds(source: Path, size: str, output: str, work: Path, threads: str | None = None) -> float:
    """One `vipsthumbnail` process making `output` at `size` from `source`, timed (output removed).
    threads: VIPS_CONCURRENCY for the run (None: libvips' default, a worker thread per core)."""
    out_dir = Path(tempfile.mkdtemp(prefix="vt-", dir=work))
    run_env = dict(os.environ)
    if threads:
        run_env["VIPS_CONCURRENCY"] = threads
    t = time.perf_counter()
    subprocess.run(["vipsthumbnail", str(source), "-s", size, "-o", str(out_dir / output)], check=True, env=run_env)
    elapsed = time.perf_counter() - t
    shutil.rmtree(out_dir)
    return elapsed


@dataclass
class CaseTimings:
    """Seconds per request of one variant case; `first` and `reference` are paired round by round."""
    name: str
    size: int = 0                                            # bytes of the variant
    first: list[float] = field(default_factory=list)         # first GET (derive + store + serve)
    reference: list[float] = field(default_factory=list)     # vipsthumbnail, libvips' default threads
    single: list[float] = field(default_factory=list)        # vipsthumbnail, VIPS_CONCURRENCY=1
    cached: list[float] = field(default_factory=list)        # later GETs of the stored variant
    plain: list[float] = field(default_factory=list)         # GETs of a plain object of the same size


def measure_case(case: tuple[str, str, str], get: Callable[[str], bytes],
                 put: Callable[[str, bytes, str], None], work: Path, rounds: int,
                 source: Path = SOURCE, cached_reads: int = 3) -> CaseTimings:
    """The measurement of one case, with any client: get(key) → body, put(key, body, content_type).

    Every round uploads `source` to a fresh `…/original.jpg` and times the first GET of the
    variant, then `vipsthumbnail` making the same size and format from the same file (a process per
    run, as the CLI is used), with libvips' default threads and with one thread per image (how
    mediagate runs it); then, after one untimed GET of each, `cached_reads` GETs of the variant
    alternating with GETs of a plain object of exactly its size, the one going first alternating
    too (so neither always follows the `vipsthumbnail` processes)."""
    name, size, output = case
    data = source.read_bytes()
    result = CaseTimings(name)
    plain_key = None
    for round_ in range(rounds):
        key = f"r{round_}-{secrets.token_hex(3)}/original.jpg"
        put(key, data, "image/jpeg")
        variant = key.replace("original.jpg", name)
        t = time.perf_counter()
        body = get(variant)
        result.first.append(time.perf_counter() - t)
        result.size = len(body)
        result.reference.append(vipsthumbnail_seconds(source, size, output, work))
        result.single.append(vipsthumbnail_seconds(source, size, output, work, threads="1"))
        if plain_key is None:
            plain_key = f"plain-{name}-{secrets.token_hex(3)}"
            put(plain_key, os.urandom(len(body)), "application/octet-stream")
        get(variant)
        get(plain_key)
        for pair in range(cached_reads):
            timed = [(variant, result.cached), (plain_key, result.plain)]
            if (round_ + pair) % 2 == 1:
                timed.reverse()
            for key_, samples in timed:
                t = time.perf_counter()
                get(key_)
                samples.append(time.perf_counter() - t)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(REPO / ".build" / "release" / "mediagate"))
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    import boto3
    from botocore.config import Config

    work = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    access, secret = "BENCH" + secrets.token_hex(6).upper(), secrets.token_hex(20)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
    env.update(MEDIAGATE_ROOT_ACCESS_KEY=access, MEDIAGATE_ROOT_SECRET_KEY=secret, MEDIAGATE_ADMIN_TOKEN=secrets.token_hex(16),
               MALLOC_ARENA_MAX="2", LOG_LEVEL="warning")
    log = open(work / "server.log", "wb")
    proc = subprocess.Popen([args.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(work / "data")],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(port, proc)
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=access,
                          aws_secret_access_key=secret, region_name="us-east-1",
                          config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}))
        bucket = "bench-" + secrets.token_hex(4)
        s3.create_bucket(Bucket=bucket)
        source = SOURCE.read_bytes()
        print(f"input: {SOURCE.name} ({len(source):,} bytes), {args.rounds} rounds, "
              f"binary {args.binary}, {os.cpu_count()} cores")
        print(f"{'case':<24}{'mediagate':>12}{'reference':>12}{'ratio':>8}")
        get = lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # noqa: E731
        put = lambda key, body, content_type: s3.put_object(Bucket=bucket, Key=key, Body=body,  # noqa: E731
                                                            ContentType=content_type)
        for case in CASES:
            name = case[0]
            timings = measure_case(case, get, put, work, args.rounds)
            first, reference, single = timings.first, timings.reference, timings.single
            cached, plain = timings.cached, timings.plain
            f, r = statistics.median(first), statistics.median(reference)
            c, p = statistics.median(cached), statistics.median(plain)
            r1 = statistics.median(single)
            print(f"{name + ' first':<24}{f * 1000:>10.1f}ms{r * 1000:>10.1f}ms{f / r:>7.2f}x  (vipsthumbnail)")
            print(f"{'':<24}{'':>12}{r1 * 1000:>10.1f}ms{f / r1:>7.2f}x  (vipsthumbnail, VIPS_CONCURRENCY=1)")
            print(f"{name + ' cached':<24}{c * 1000:>10.2f}ms{p * 1000:>10.2f}ms{c / p:>7.2f}x  (plain GET, {timings.size:,} B)")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
