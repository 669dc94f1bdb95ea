#!/usr/bin/env python3
"""A/B of two mediagate binaries on the small-object loads of bench/run.py.

    bench/ab.py A_BINARY B_BINARY [--loads get1,get16,get64,put1,put16] [--seconds 5] [--rounds 4]
                                  [--size 4096]

Both servers run side by side (disk storage, SQLite, each in its own temp dir), each seeded with
the same 64 objects of `--size` bytes (4 KiB by default; PUTs send that size too); every load then runs against A and B alternately, round by round
(the first binary of each round alternates too), with wrk and presigned URLs as in bench/run.py.
Prints each round's ops/s and server CPU per operation, and the medians. For a change on a hot
path: the spread between rounds on this machine kind is 5–15 %, so one run of bench/run.py
cannot tell a few per cent; alternating rounds of the same two binaries can. Nothing is
asserted: the script reports.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "conformance"))

import harness  # noqa: E402
import loadgen  # noqa: E402
from upstream import Target  # noqa: E402

BUCKET = "bench"
OBJECTS = 64


class Side:
    def __init__(self, label: str, binary: Path, work: Path):
        access, secret = "AB" + secrets.token_hex(6).upper(), secrets.token_hex(20)
        self.label = label
        self.server = harness.Mediagate(binary, work / label, access, secret, secrets.token_hex(16))
        self.signer = loadgen.CachedSigner(access, secret)
        self.target = Target(label, self.server.port, access, secret)
        self.puts = 0

    def presign(self, method: str, path: str) -> str:
        return self.signer.presign(method, path, f"127.0.0.1:{self.server.port}", 600)


def parse_load(text: str) -> tuple[str, int]:
    op = "GET" if text.startswith("get") else "PUT" if text.startswith("put") else None
    if op is None or not text[3:].isdigit():
        raise SystemExit(f"unknown load {text!r}: getN or putN")
    return op, int(text[3:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--loads", default="get1,get16,get64,put1,put16")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--size", type=int, default=4096, help="bytes per object")
    args = parser.parse_args()
    loads = [parse_load(x) for x in args.loads.split(",")]

    harness.install_cleanup()
    work = Path(tempfile.mkdtemp(prefix="mediagate-ab-"))
    harness.register(harness.TempDir(work))
    wrk = loadgen.Wrk(work)
    sides = [Side("A", args.a, work), Side("B", args.b, work)]
    data = os.urandom(args.size)
    digest = hashlib.sha256(data).hexdigest()
    body = work / "body"
    body.write_bytes(data)
    for side in sides:
        side.server.start()
        side.target.check("PUT", f"/{BUCKET}")
        for i in range(OBJECTS):
            side.target.check("PUT", f"/{BUCKET}/get/{i}", data, digest)

    try:
        for op, conc in loads:
            runs: dict[str, list] = {s.label: [] for s in sides}
            for r in range(args.rounds + 1):  # round 0 warms up and is not counted
                order = sides if r % 2 == 0 else sides[::-1]
                for side in order:
                    if op == "GET":
                        paths = [f"/{BUCKET}/get/{i}" for i in range(OBJECTS)]
                    else:
                        paths = [f"/{BUCKET}/put/{conc}/{side.puts + i}" for i in range(20000 * args.seconds)]
                        side.puts += len(paths)
                    targets = [side.presign(op, p) for p in paths]
                    res = wrk.run(side.server.port, op, targets, body if op == "PUT" else None, conc,
                                  args.seconds if r else 1, side.server.pids)
                    if res.errors:
                        print(f"  !! {op} ×{conc} {side.label}: {res.errors} errors ({res.detail})")
                    if r:
                        runs[side.label].append(res)
                        print(f"{op} ×{conc:<3} round {r} {side.label}: {res.ops:>9,.0f}/s "
                              f"{res.server_us_per_op:6.1f} µs/op", flush=True)
            for side in sides:
                rs = runs[side.label]
                print(f"== {op} ×{conc} {side.label}: median {statistics.median(x.ops for x in rs):,.0f}/s "
                      f"({min(x.ops for x in rs):,.0f}–{max(x.ops for x in rs):,.0f}), "
                      f"server CPU {statistics.median(x.server_us_per_op for x in rs):.1f} µs/op "
                      f"({min(x.server_us_per_op for x in rs):.1f}–{max(x.server_us_per_op for x in rs):.1f})",
                      flush=True)
    finally:
        harness.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
