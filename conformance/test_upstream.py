"""`--storage s3` (SPEC §7, issue 5): two gateways A and B, both `--storage s3` on one SeaweedFS
(`weed mini`, weedserver.py: the stand-in for Cloudflare R2) and `--metadata` on one PostgreSQL
(pgserver.py), with the same root credentials and admin token, each with its own data dir.

Several instances (issue 5, "Show" 3): an object written through A is read, listed and described
identically through B, and it is really upstream (weed's own client lists the same key and bytes); a
variant derived through A is served by B from the upstream store without deriving again; a consent
revoked through A is enforced by B on the next request; simultaneous first reads of one variant on A
and B, and reads on B while A overwrites a key, never serve a torn or stale object.

Upstream failures (issue 5, "Show" 4): weed killed in the middle of a large GET aborts the client's
transfer (never a complete-looking short 200); with weed down, GET/PUT/HEAD/LIST answer 503 with an
S3 error (`ServiceUnavailable` or `SlowDown`) after bounded retries and the gateway stays up; with
weed back on the same ports and data, the same gateway serves again and the objects are intact.

The module starts its own servers, whatever CONFORMANCE_STORAGE says."""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, Server
from pgserver import PostgresServer
from s3util import Signer, key_path, parse_error
from tenants import add_tenant, corpus, denied, fetch, grant, revoke, uid
from test_variants import NORMAL, cache_hits, derivations, expected_size, is_format, jpeg_size
from weedserver import WeedServer

pytestmark = [pytest.mark.mediagate_only, pytest.mark.slow]

MiB = 1 << 20
# How long a request may take while the upstream is down: the gateway's retries are bounded
# (3 attempts, 0.1 s then 0.2 s apart, 5 s connect timeout), so this is generous.
DOWN_ANSWER_SECONDS = 20.0
UPSTREAM_ERRORS = {"ServiceUnavailable", "SlowDown"}


# --------------------------------------------------------------------------------------------
# Servers


class UpstreamGateway(Server):
    """A gateway with `--storage s3` on a shared WeedServer and `--metadata` on a shared database.

    conftest's Server adds the `--storage s3 --upstream-*` flags for its `upstream`; here the
    upstream belongs to the module, so close() leaves it running."""

    def __init__(self, name: str, base: Path, weed: WeedServer, metadata_url: str):
        super().__init__(name, "http", base)
        self.upstream = weed
        self.metadata_url = metadata_url

    def command(self) -> list[str]:
        cmd = super().command()
        if "--storage" not in cmd:
            cmd += ["--storage", "s3", "--upstream-endpoint", self.upstream.endpoint,
                    "--upstream-region", self.upstream.region,
                    "--upstream-access-key", self.upstream.access_key]
        return cmd + ["--metadata", self.metadata_url]

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env["MEDIAGATE_METADATA"] = self.metadata_url  # for admin commands run with tenants.cli
        return env

    def close(self):
        self.stop()


@dataclasses.dataclass
class Cluster:
    weed: WeedServer
    postgres: PostgresServer
    metadata_url: str
    a: UpstreamGateway
    b: UpstreamGateway
    probe_bucket: str

    @property
    def gateways(self):
        return (self.a, self.b)

    def upstream_back(self, *objects: tuple[str, str], timeout: float = 30.0):
        """Restarts weed (same ports and data) and waits until it serves `objects` and takes a
        write itself: right after a restart its volume servers are not registered yet and reads
        fail with 5xx for a fraction of a second (SEAWEEDFS_NOTES.md), which is weed's warm-up,
        not the gateway's business."""
        self.weed.restart()
        s3 = self.weed.boto3_client()
        deadline = time.monotonic() + timeout
        checks = [lambda b=b, k=k: s3.get_object(Bucket=b, Key=k, Range="bytes=0-0")["Body"].read()
                  for b, k in objects]
        checks.append(lambda: s3.put_object(Bucket=self.probe_bucket, Key="probe", Body=b"probe"))
        for check in checks:
            while True:
                try:
                    check()
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

    def logs(self, n: int = 15) -> str:
        return "\n".join(f"--- {s.name} log ---\n{s.log_tail(n)}" for s in self.gateways) + \
            f"\n--- weed log ---\n{self.weed.log_tail(n)}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("upstream")
    weed = WeedServer(base=base / "weed").start()
    postgres = None
    gateways: list[UpstreamGateway] = []
    try:
        postgres = PostgresServer().start()
        url = postgres.database()
        for name in ("gw-a", "gw-b"):
            g = UpstreamGateway(name, base / name, weed, url)
            gateways.append(g)
            g.start()
        probe = f"probe-{uid(12)}"
        weed.boto3_client().create_bucket(Bucket=probe)
        yield Cluster(weed, postgres, url, gateways[0], gateways[1], probe)
    finally:
        for g in gateways:
            g.stop()
            shutil.rmtree(g.sandbox, ignore_errors=True)
        if postgres is not None:
            postgres.stop()
        weed.close(keep_logs=True)


@pytest.fixture(autouse=True)
def _healthy(request, cluster):
    """Every test starts with weed up and both gateways running, and fails if a gateway died."""
    if not cluster.weed.alive():
        cluster.upstream_back()
    for g in cluster.gateways:
        if not g.alive():
            g.restart()
    yield
    dead = [f"{g.name} exited ({g.proc.returncode if g.proc else '?'}) during this test:\n{g.log_crash()}"
            for g in cluster.gateways if not g.alive()]
    if dead:
        pytest.fail("\n".join(dead), pytrace=False)


@pytest.fixture
def bucket(cluster):
    """A fresh bucket made through A."""
    name = f"up-{uid(12)}"
    cluster.a.client().create_bucket(Bucket=name)
    return name


# --------------------------------------------------------------------------------------------
# Helpers


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def error_of(fn) -> tuple[int, str | None]:
    """(status, S3 error code) of a boto3 call that must fail."""
    try:
        result = fn()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code")
    raise AssertionError(f"expected an error, but the request succeeded: {str(result)[:300]}")


def described(head: dict) -> dict:
    """What a HEAD/GET answer says about an object (everything that must agree across instances)."""
    return {k: head.get(k) for k in ("ContentLength", "ETag", "LastModified", "ContentType", "CacheControl",
                                     "ContentDisposition", "ContentLanguage", "Metadata")}


def upstream_keys(weed: WeedServer, bucket: str, prefix: str = "") -> dict[str, int]:
    s3 = weed.boto3_client()
    out, token = {}, None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        out.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        if not page.get("IsTruncated"):
            return out
        token = page["NextContinuationToken"]


def vips_decodes(data: bytes, suffix: str = ".jpg") -> str | None:
    """None when libvips decodes every pixel of `data` without a warning turned error, else why not."""
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        proc = subprocess.run(["vips", "avg", f"{f.name}[fail=true]"], capture_output=True, text=True, timeout=60)
    return None if proc.returncode == 0 else f"vips avg: {proc.returncode} {proc.stderr.strip()[:300]}"


def read_all(client, bucket: str, key: str):
    """("ok", body, response) / ("error", (status, code), None) / ("broken", exception, response):
    a transfer that started and broke is "broken", never "ok"."""
    try:
        r = client.get_object(Bucket=bucket, Key=key)
    except ClientError as e:
        return "error", (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code")), None
    try:
        body = r["Body"].read()
    except Exception as e:  # botocore's IncompleteReadError, ResponseStreamingError, a reset
        return "broken", e, r
    if len(body) != r["ContentLength"]:
        return "broken", AssertionError(f"{len(body)} bytes of a {r['ContentLength']}-byte answer"), r
    return "ok", body, r


# --------------------------------------------------------------------------------------------
# 3a/3b. One object, two instances, one upstream


def test_written_through_a_is_read_and_listed_through_b(cluster, bucket):
    a, b = cluster.a.client(), cluster.b.client()
    assert bucket in [x["Name"] for x in b.list_buckets()["Buckets"]], "B does not list the bucket A made"
    b.head_bucket(Bucket=bucket)
    key = f"docs/{uid(6)}/report 2024 é+x.bin"
    body = os.urandom(700_000)
    put = a.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-mediagate-test",
                       CacheControl="max-age=60", ContentDisposition='attachment; filename="r.bin"',
                       ContentLanguage="fr", Metadata={"colour": "blue", "trip-id": "42"})
    assert put["ETag"] == f'"{md5(body)}"'

    got = b.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body, "B served other bytes than A stored"
    head_a, head_b = a.head_object(Bucket=bucket, Key=key), b.head_object(Bucket=bucket, Key=key)
    assert described(head_b) == described(head_a), "A and B describe the object differently"
    assert described(got) == described(head_b), "B's GET and HEAD differ"
    assert head_b["ETag"] == put["ETag"] and head_b["ContentLength"] == len(body)
    assert head_b["ContentType"] == "application/x-mediagate-test"
    assert head_b["Metadata"] == {"colour": "blue", "trip-id": "42"}
    assert (head_b["CacheControl"], head_b["ContentDisposition"], head_b.get("ContentLanguage")) == \
        ("max-age=60", 'attachment; filename="r.bin"', "fr")
    ranged = b.get_object(Bucket=bucket, Key=key, Range="bytes=1000-1999")
    assert ranged["Body"].read() == body[1000:2000]

    listed = b.list_objects_v2(Bucket=bucket, Prefix="docs/")
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed.get("Contents", [])] == [(key, len(body), put["ETag"])]
    top = b.list_objects(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top.get("CommonPrefixes", [])] == ["docs/"]

    # and back: written through B, deleted through B, seen (then gone) through A
    b.put_object(Bucket=bucket, Key="docs/from-b", Body=b"written by B")
    assert a.get_object(Bucket=bucket, Key="docs/from-b")["Body"].read() == b"written by B"
    b.delete_object(Bucket=bucket, Key="docs/from-b")
    assert error_of(lambda: a.get_object(Bucket=bucket, Key="docs/from-b")) == (404, "NoSuchKey")

    # 3b. it is really upstream, under the same bucket and key, and nowhere else
    weed = cluster.weed.boto3_client()
    assert upstream_keys(cluster.weed, bucket) == {key: len(body)}, "upstream listing differs"
    direct = weed.get_object(Bucket=bucket, Key=key)
    assert direct["Body"].read() == body, "the upstream object's bytes differ"
    assert direct["ContentType"] == "application/x-mediagate-test"
    assert direct["Metadata"].get("colour") == "blue" and direct["Metadata"].get("trip-id") == "42"
    for g in cluster.gateways:  # no copy of the bytes left in a gateway's data dir
        for dirpath, _dirs, files in os.walk(g.data_dir):
            for f in files:
                p = Path(dirpath) / f
                if p.stat().st_size >= len(body):
                    assert body not in p.read_bytes(), f"{g.name} keeps a copy of the object in {p}"


# --------------------------------------------------------------------------------------------
# 3c. A variant derived through A is served by B from upstream


def test_variant_derived_through_a_is_a_cache_hit_on_b(cluster, bucket):
    a, b = cluster.a.client(), cluster.b.client()
    directory = f"photos/{uid()}/"
    a.put_object(Bucket=bucket, Key=directory + "original.jpg", Body=corpus("photo-mid.jpg"), ContentType="image/jpeg")
    key = directory + "thumb-400.jpg"

    da0 = derivations(cluster.a)
    first = a.get_object(Bucket=bucket, Key=key)
    body = first["Body"].read()
    assert is_format(body, "jpg") and jpeg_size(body) == (400, 300), f"A's thumb-400: {body[:16]!r}"
    assert derivations(cluster.a) == da0 + 1, "A did not derive the variant on its first read"
    assert key in upstream_keys(cluster.weed, bucket, directory), "the derived variant is not stored upstream"
    assert cluster.weed.boto3_client().get_object(Bucket=bucket, Key=key)["Body"].read() == body

    db0, hb0 = derivations(cluster.b), cache_hits(cluster.b)
    got = b.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body, "B served other bytes than A derived"
    assert got["ContentType"] == "image/jpeg" and got["ETag"] == first["ETag"]
    head = b.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(body)
    assert derivations(cluster.b) == db0, "B derived again a variant A had stored upstream"
    assert cache_hits(cluster.b) >= hb0 + 2, "B's reads of the stored variant are not cache hits"


# --------------------------------------------------------------------------------------------
# 3d. Consent revoked through A is enforced by B on the next request


def test_consent_revoked_through_a_is_enforced_by_b(cluster, bucket):
    a_gw, b_gw = cluster.a, cluster.b
    tenant_a = add_tenant(a_gw, "acme", via="api")          # made through A's control API
    tenant_b = dataclasses.replace(tenant_a, server=b_gw)   # the same key, used on B
    ta, tb, root_b = tenant_a.client(), tenant_b.client(), b_gw.client()
    subject = f"u-{uid()}"
    key = f"{tenant_a.prefix}selfies/{subject}/original.jpg"
    thumb = f"{tenant_a.prefix}selfies/{subject}/thumb-400.jpg"
    jpeg = corpus("gray.jpg")

    denied(lambda: tb.put_object(Bucket=bucket, Key=key, Body=jpeg, ContentType="image/jpeg"))
    grant(a_gw, subject, tenant_a, via="api")
    ta.put_object(Bucket=bucket, Key=key, Body=jpeg, ContentType="image/jpeg")
    assert tb.get_object(Bucket=bucket, Key=key)["Body"].read() == jpeg, "B: GET with the consent active"
    assert is_format(tb.get_object(Bucket=bucket, Key=thumb)["Body"].read(), "jpg")
    url = tb.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    assert fetch(url).status == 200

    revoke(a_gw, subject, tenant_a, via="api")              # A's control API
    denied(lambda: tb.get_object(Bucket=bucket, Key=key))
    denied(lambda: tb.head_object(Bucket=bucket, Key=key), head=True)
    denied(lambda: tb.get_object(Bucket=bucket, Key=thumb))
    denied(lambda: root_b.get_object(Bucket=bucket, Key=key))  # root too
    r = fetch(url)
    assert r.status == 403 and r.code == "AccessDenied", f"URL presigned on B before the revocation: {r}"

    grant(a_gw, subject, tenant_a)                           # the CLI, on the shared database
    assert tb.get_object(Bucket=bucket, Key=key)["Body"].read() == jpeg, "B: GET after the CLI grant"
    revoke(a_gw, subject, tenant_a)
    denied(lambda: tb.get_object(Bucket=bucket, Key=key))
    denied(lambda: tb.get_object(Bucket=bucket, Key=thumb))
    tb.delete_object(Bucket=bucket, Key=key)                # deletes stay allowed
    assert key not in upstream_keys(cluster.weed, bucket, tenant_a.prefix)


# --------------------------------------------------------------------------------------------
# 3e. Races between the instances


# sources written in turn at one key, with different aspect ratios so that a variant of an older
# source shows in its size
RACE_SOURCES = ["photo-mid.jpg", "exif-orientation-6.jpg", "gray.jpg", "photo-large.jpg", "exif-orientation-8.jpg"]
READERS_PER_GATEWAY = 3


def test_simultaneous_first_reads_on_a_and_b(cluster, bucket):
    clients = {g.name: g.client(max_pool_connections=8) for g in cluster.gateways}
    directory = f"photos/{uid()}/"
    key = directory + "thumb-400.jpg"
    weed = cluster.weed.boto3_client()
    problems = []
    for round_, name in enumerate(RACE_SOURCES):
        clients["gw-a"].put_object(Bucket=bucket, Key=directory + "original.jpg", Body=corpus(name),
                                   ContentType="image/jpeg")
        want = expected_size(NORMAL[name], 400)
        before = {g.name: derivations(g) for g in cluster.gateways}
        barrier = threading.Barrier(2 * READERS_PER_GATEWAY)

        def one(gateway: str):
            barrier.wait(timeout=30)
            return gateway, read_all(clients[gateway], bucket, key)

        with ThreadPoolExecutor(2 * READERS_PER_GATEWAY) as ex:
            results = list(ex.map(one, ["gw-a", "gw-b"] * READERS_PER_GATEWAY))
        bodies = set()
        for gateway, (kind, value, response) in results:
            if kind == "ok":
                bodies.add(value)
                if response["ContentType"] != "image/jpeg":
                    problems.append(f"round {round_} ({name}) {gateway}: Content-Type {response['ContentType']!r}")
            elif kind == "error":
                if value[0] != 503 or value[1] not in UPSTREAM_ERRORS:
                    problems.append(f"round {round_} ({name}) {gateway}: error {value} (only 503 SlowDown/"
                                    f"ServiceUnavailable is a clean answer here)")
            else:
                problems.append(f"round {round_} ({name}) {gateway}: torn transfer: {value!r}")
        if not bodies:
            problems.append(f"round {round_} ({name}): no reader got the variant: {[r[1][:2] for r in results]}")
            continue
        if len(bodies) > 1:
            problems.append(f"round {round_} ({name}): {len(bodies)} different bodies among the 200s")
        for body in bodies:
            if not (is_format(body, "jpg") and body.endswith(b"\xff\xd9")):
                problems.append(f"round {round_} ({name}): not a complete JPEG: {body[:8]!r}…{body[-4:]!r}")
                continue
            got = jpeg_size(body)
            if not (got[0] == want[0] and abs(got[1] - want[1]) <= 1):
                problems.append(f"round {round_} ({name}): thumb-400 is {got}, expected {want} "
                                f"(a variant of another source?)")
            why = vips_decodes(body)
            if why:
                problems.append(f"round {round_} ({name}): the served variant does not decode: {why}")
        stored = weed.get_object(Bucket=bucket, Key=key)["Body"].read()
        if stored not in bodies:
            problems.append(f"round {round_} ({name}): the variant stored upstream is not the one served")
        derived = sum(derivations(g) - before[g.name] for g in cluster.gateways)
        if derived != 1:
            problems.append(f"round {round_} ({name}): {derived} variants stored by A and B together "
                            f"for one source version, expected 1")
    assert not problems, "\n".join(problems) + "\n" + cluster.logs()


@dataclasses.dataclass
class OverwriteRace:
    versions: list[bytes] = dataclasses.field(repr=False)
    written: dict[str, str] = dataclasses.field(repr=False)  # sha256 → md5 (the ETag) of each version
    # ("ok", (sha256, etag)), ("error", (status, code)), ("broken", exception)
    outcomes: list[tuple[str, object]] = dataclasses.field(repr=False)
    final: bytes = dataclasses.field(repr=False)  # what B serves once A's last PUT has answered

    def __repr__(self):
        counts = {k: len(self.of(k)) for k in ("ok", "error", "broken")}
        return f"OverwriteRace({len(self.versions)} versions, reads {counts})"

    def of(self, kind: str) -> list:
        return [v for k, v in self.outcomes if k == kind]


@pytest.fixture(scope="module")
def overwrite_race(cluster) -> OverwriteRace:
    """A overwrites one key with 12 versions of 1 MiB (distinct random bytes, same size) while three
    threads read it through B in a loop, until one read after the last PUT."""
    bucket = f"up-{uid(12)}"
    a = cluster.a.client()
    a.create_bucket(Bucket=bucket)
    b = cluster.b.client(max_pool_connections=8)
    key = "race/blob.bin"
    versions = [os.urandom(MiB) for _ in range(12)]
    written = {sha(v): md5(v) for v in versions}
    assert len(written) == len(versions)
    a.put_object(Bucket=bucket, Key=key, Body=versions[0])
    done = threading.Event()
    outcomes: list[tuple[str, object]] = []
    lock = threading.Lock()

    def writer():
        try:
            for v in versions[1:]:
                a.put_object(Bucket=bucket, Key=key, Body=v)
                time.sleep(0.05)
        finally:
            done.set()

    def reader():
        while True:
            last = done.is_set()
            kind, value, response = read_all(b, bucket, key)
            with lock:
                outcomes.append(("ok", (sha(value), response["ETag"].strip('"'))) if kind == "ok" else (kind, value))
            if last:
                return

    with ThreadPoolExecutor(4) as ex:
        w = ex.submit(writer)
        readers = [ex.submit(reader) for _ in range(3)]
        w.result(timeout=120)
        for r in readers:
            r.result(timeout=120)
    final = b.get_object(Bucket=bucket, Key=key)["Body"].read()
    return OverwriteRace(versions, written, outcomes, final)


def test_reads_on_b_while_a_overwrites_are_whole_versions(overwrite_race):
    """Every successful read on B is exactly one of the versions A wrote (by SHA-256), with that
    version's ETag; failures are clean S3 errors or aborted transfers, never a wrong body."""
    race = overwrite_race
    ok = race.of("ok")
    wrong = [v for v in ok if v[0] not in race.written]
    assert not wrong, f"{len(wrong)} of {len(ok)} successful reads on B match no version A wrote"
    mismatched = [v for v in ok if race.written[v[0]] != v[1]]
    assert not mismatched, f"{len(mismatched)} reads served one version's bytes with another's ETag"
    unclean = [e for e in race.of("error") if e[0] != 503 or e[1] not in UPSTREAM_ERRORS]
    assert not unclean, f"reads on B during overwrites failed with {unclean}"
    assert len(ok) >= 6, f"only {len(ok)} successful reads on B ({len(race.outcomes)} in all): {race.outcomes[:10]}"
    seen = {v[0] for v in ok}
    assert len(seen) >= 2, "the reads did not overlap the overwrites (one version seen): the race did not happen"
    # read-after-write across instances: once A's last PUT answered, B serves the last version
    assert race.final == race.versions[-1], "B does not serve the last version A wrote"


def test_reads_on_b_while_a_overwrites_are_never_aborted(overwrite_race):
    """A GET racing an overwrite is answered with one whole version (as AWS S3 and R2 do) or a clean
    S3 error; a 200 whose body then breaks off is a torn response, which a healthy upstream never
    justifies."""
    race = overwrite_race
    broken = race.of("broken")
    assert not broken, (f"{len(broken)} of {len(race.outcomes)} reads on B during overwrites were aborted "
                        f"after a 200 head (no upstream failure involved), e.g. {broken[0]!r}")


# --------------------------------------------------------------------------------------------
# 4. Upstream failures


def signed_get(gateway: Server, bucket: str, key: str) -> http.client.HTTPResponse:
    path = key_path(bucket, key)
    headers = {"host": gateway.hostport}
    Signer(gateway.creds.access_key, gateway.creds.secret_key, REGION).sign_headers(
        "GET", path, [], headers, hashlib.sha256(b"").hexdigest())
    conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    return conn.getresponse()


def test_upstream_killed_in_the_middle_of_a_large_get(cluster, bucket):
    a = cluster.a.client()
    size = 48 * MiB
    data = os.urandom(size)
    a.put_object(Bucket=bucket, Key="big/blob.bin", Body=data)
    for gateway in cluster.gateways:
        if not cluster.weed.alive():
            cluster.upstream_back((bucket, "big/blob.bin"))
        resp = signed_get(gateway, bucket, "big/blob.bin")
        assert resp.status == 200, f"{gateway.name}: {resp.status} {resp.read()[:500]!r}"
        length = int(resp.getheader("Content-Length") or -1)
        assert length == size, f"{gateway.name}: Content-Length {length}"
        received = bytearray(resp.read(MiB))
        head = bytes(received)
        assert head == data[:MiB], f"{gateway.name}: first MiB: {len(head)} bytes\n{cluster.logs(30)}"
        cluster.weed.kill()  # SIGKILL to weed's process group
        got = len(head)
        outcome = None
        started = time.monotonic()
        try:
            while True:
                chunk = resp.read(MiB)
                if not chunk:  # end of the stream (read(amt) does not raise on a short one)
                    outcome = "ended" if got == length else "aborted (connection closed)"
                    break
                got += len(chunk)
                received += chunk
        except http.client.IncompleteRead as e:
            got += len(e.partial)
            received += e.partial
            outcome = "aborted"
        except (ConnectionResetError, BrokenPipeError) as e:
            outcome = f"aborted ({type(e).__name__})"
        except socket.timeout:
            outcome = f"stalled: no byte and no close for {time.monotonic() - started:.0f} s"
        finally:
            resp.close()
        assert outcome is not None and not outcome.startswith("stalled"), \
            f"{gateway.name}: after {got} of {size} bytes the transfer {outcome}\n{cluster.logs()}"
        if outcome == "ended":
            assert resp.status == 200 and got == size
            pytest.fail(f"{gateway.name}: the whole {size}-byte body arrived although the upstream was killed "
                        f"after {MiB} bytes: the gateway buffered the object instead of streaming it")
        assert got < size, f"{gateway.name}: {got} bytes"
        assert bytes(received) == data[:len(received)], f"{gateway.name}: the bytes before the abort are wrong"
        assert gateway.alive(), f"{gateway.name} died:\n{gateway.log_crash()}"


def test_upstream_down_answers_503_and_the_gateway_stays_up(cluster, bucket):
    a = cluster.a.client()
    a.put_object(Bucket=bucket, Key="down/existing", Body=b"before the outage")
    cluster.weed.kill()
    for gateway in cluster.gateways:
        c = gateway.client()
        raw = gateway.raw(timeout=60)
        calls = {
            "GET": lambda: raw.request("GET", key_path(bucket, "down/existing")),
            "PUT": lambda: raw.request("PUT", key_path(bucket, "down/new"), body=b"during the outage"),
            "HEAD": lambda: raw.request("HEAD", key_path(bucket, "down/existing")),
            "LIST": lambda: raw.request("GET", key_path(bucket), query=[("list-type", "2"), ("prefix", "down/")]),
            "LIST v1": lambda: raw.request("GET", key_path(bucket), query=[("prefix", "down/")]),
            "ListBuckets": lambda: raw.request("GET", "/"),
        }
        for what, call in calls.items():
            t0 = time.monotonic()
            r = call()
            elapsed = time.monotonic() - t0
            assert r.status == 503, f"{gateway.name} {what} with the upstream down: {r}\n{gateway.log_tail(10)}"
            assert elapsed < DOWN_ANSWER_SECONDS, f"{gateway.name} {what}: answered after {elapsed:.1f} s"
            if what != "HEAD":
                err = parse_error(r.body)
                assert err.get("Code") in UPSTREAM_ERRORS, f"{gateway.name} {what}: {r}"
                assert err.get("RequestId"), f"{gateway.name} {what}: no RequestId in {r}"
        # boto3 sees the same thing
        assert error_of(lambda: c.get_object(Bucket=bucket, Key="down/existing"))[0] == 503
        assert error_of(lambda: c.put_object(Bucket=bucket, Key="down/boto", Body=b"x" * 100_000))[0] == 503
        assert gateway.alive(), f"{gateway.name} died with the upstream down:\n{gateway.log_crash()}"
        health = fetch(gateway.endpoint + "/_mediagate/health")
        assert health.status == 200, f"{gateway.name} /_mediagate/health with the upstream down: {health}"


def test_upstream_back_the_same_gateway_serves_again(cluster, bucket):
    a, b = cluster.a.client(), cluster.b.client()
    before = {f"back/{i}": os.urandom(200_000 + i) for i in range(5)}
    before["back/big"] = os.urandom(6 * MiB)
    for k, v in before.items():
        a.put_object(Bucket=bucket, Key=k, Body=v)
    a.put_object(Bucket=bucket, Key="back/photo/original.jpg", Body=corpus("photo-mid.jpg"), ContentType="image/jpeg")
    thumb = a.get_object(Bucket=bucket, Key="back/photo/thumb-400.jpg")["Body"].read()
    pids = {g.name: g.pid for g in cluster.gateways}

    cluster.weed.kill()
    assert error_of(lambda: a.get_object(Bucket=bucket, Key="back/0"))[0] == 503
    assert error_of(lambda: b.put_object(Bucket=bucket, Key="back/during", Body=b"x"))[0] == 503
    # same ports, same data; weed itself serves the objects and takes writes again (so a failure
    # below is the gateway's)
    cluster.upstream_back(*[(bucket, k) for k in [*before, "back/photo/original.jpg", "back/photo/thumb-400.jpg"]])

    for gateway, c in ((cluster.a, a), (cluster.b, b)):
        assert gateway.pid == pids[gateway.name], f"{gateway.name} was restarted"
        for k, v in before.items():
            got = c.get_object(Bucket=bucket, Key=k)["Body"].read()
            assert got == v, f"{gateway.name}: {k} is not intact after the outage"
        new = os.urandom(300_000)
        c.put_object(Bucket=bucket, Key=f"back/after-{gateway.name}", Body=new)
        assert c.get_object(Bucket=bucket, Key=f"back/after-{gateway.name}")["Body"].read() == new
        assert c.get_object(Bucket=bucket, Key="back/photo/thumb-400.jpg")["Body"].read() == thumb
        c.head_object(Bucket=bucket, Key="back/big")
        listed = {o["Key"] for o in c.list_objects_v2(Bucket=bucket, Prefix="back/")["Contents"]}
        assert set(before) <= listed
    assert "back/during" not in upstream_keys(cluster.weed, bucket, "back/"), "a refused PUT left an object"
