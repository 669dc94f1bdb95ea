"""Helpers of the issue-3 tests (tenants, policy, consent, content checks, share links, control API).

Everything goes through the public surface: the `mediagate` command line (run against the data dir
of a running server, as docs/policy.md allows), the control API under `/_mediagate/v1/` (admin
bearer token or a tenant's SigV4 signature, made with the suite's own signer), and S3 with boto3 or
s3util's RawClient. Names are unique per call so that tests can share the session's servers.
"""
from __future__ import annotations

import hashlib
import time
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REGION, Server, mediagate_binary
from s3util import RawClient, Response, Signer, parse_error

CORPUS = Path("/work/shared/corpus")
BIOMETRIC = "biometric_processing"
ADMIN = object()  # marker: "use the server's admin token"


def uid(n: int = 10) -> str:
    return uuid.uuid4().hex[:n]


def corpus(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        pytest.fail(f"corpus file {path} is missing")
    return path.read_bytes()


HTML = (b"<!DOCTYPE html>\n<html><head><title>x</title></head>"
        b"<body><script>alert(document.cookie)</script></body></html>\n")


# --------------------------------------------------------------------------------------------
# Command line


def cli(server: Server, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """`mediagate ARGS --data-dir <the server's data dir>` with the server's environment."""
    cmd = [str(mediagate_binary()), *args, "--data-dir", str(server.data_dir)]
    proc = subprocess.run(cmd, env=server.environment(), cwd=server.cwd, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout[-2000:]}\n"
                             f"stderr: {proc.stderr[-2000:]}")
    return proc


# --------------------------------------------------------------------------------------------
# Control API


@dataclass
class ApiResponse:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    @property
    def code(self) -> str | None:
        """The error code, from a JSON `{"error": ...}` or an S3 XML <Error>."""
        j = self.json
        if isinstance(j, dict) and isinstance(j.get("error"), str):
            return j["error"]
        return parse_error(self.body).get("Code")

    def header(self, name: str):
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<API {self.status} {self.headers} {self.body[:500]!r}>"


def _from_raw(r: Response) -> ApiResponse:
    return ApiResponse(r.status, dict(r.headers.items()), r.body)


def api(server: Server, method: str, path: str, body=None, token=ADMIN, tenant: "Tenant | None" = None,
        signer: Signer | None = None) -> ApiResponse:
    """A control API request: bearer `token` (ADMIN → the server's, None → no Authorization), or
    SigV4-signed with `tenant`'s key (or any `signer`)."""
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = {}
    if body is not None:
        headers["content-type"] = "application/json"
    if tenant is not None or signer is not None:
        s = signer or tenant.signer
        raw = RawClient(host=server.hostport, port=server.port, signer=s, tls=server.tls,
                        ca_file=str(server.cert) if server.cert else None)
        return _from_raw(raw.request(method, path, headers=headers, body=data))
    raw = server.raw()
    if token is ADMIN:
        headers["authorization"] = f"Bearer {server.creds.admin_token}"
    elif token is not None:
        headers["authorization"] = f"Bearer {token}"
    headers["host"] = server.hostport
    return _from_raw(raw.send(method, path, headers, data))


# --------------------------------------------------------------------------------------------
# Tenants


@dataclass
class Tenant:
    server: Server
    name: str
    prefix: str
    buckets: list
    access_key: str
    secret_key: str

    @property
    def signer(self) -> Signer:
        return Signer(self.access_key, self.secret_key, REGION)

    def client(self, **kw):
        """boto3 with the tenant's key (path style); the default one is cached."""
        if not kw:
            cached = self.__dict__.get("_client")
            if cached is None:
                cached = self.__dict__["_client"] = self._make_client()
            return cached
        return self._make_client(**kw)

    def _make_client(self, **kw):
        import boto3
        from botocore.config import Config

        cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                     retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=120,
                     **kw)
        session = boto3.session.Session(aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                                        region_name=REGION)
        return session.client("s3", endpoint_url=self.server.endpoint, config=cfg,
                              verify=str(self.server.cert) if self.server.tls else None)

    def raw(self) -> RawClient:
        return RawClient(host=self.server.hostport, port=self.server.port, signer=self.signer, tls=self.server.tls,
                         ca_file=str(self.server.cert) if self.server.cert else None)


def add_tenant(server: Server, base: str = "acme", buckets=(), via: str = "cli") -> Tenant:
    """A new tenant `BASE-<hex>` with prefix `BASE-<hex>/`, made with the CLI or the control API."""
    name = f"{base}-{uid(8)}"
    prefix = name + "/"
    if via == "cli":
        args = ["tenant", "add", name, "--prefix", prefix, "--json"]
        for b in buckets:
            args += ["--bucket", b]
        out = cli(server, *args).stdout
        try:
            doc = json.loads(out)
        except ValueError:
            raise AssertionError(f"`tenant add --json` printed no JSON: {out!r}")
    else:
        body = {"name": name, "prefix": prefix}
        if buckets:
            body["buckets"] = list(buckets)
        r = api(server, "POST", "/_mediagate/v1/tenants", body)
        assert r.status == 201, f"POST /_mediagate/v1/tenants: {r}"
        doc = r.json
    assert doc.get("name") == name and doc.get("prefix") == prefix, doc
    assert doc.get("accessKeyId") and doc.get("secretAccessKey"), doc
    return Tenant(server, name, prefix, list(doc.get("buckets") or []), doc["accessKeyId"], doc["secretAccessKey"])


# --------------------------------------------------------------------------------------------
# Consent


def grant(server: Server, subject: str, tenant: "Tenant | None" = None, purpose: str = BIOMETRIC,
          until: str | None = None, via: str = "cli"):
    if via == "cli":
        args = ["consent", "grant", subject, purpose]
        if tenant is not None:
            args += ["--tenant", tenant.name]
        if until:
            args += ["--until", until]
        cli(server, *args)
        return
    assert tenant is not None
    body = {"until": until} if until else None
    path = f"/_mediagate/v1/consents/{tenant.name}/{subject}/{purpose}"
    r = api(server, "PUT", path, body, tenant=tenant if via == "tenant" else None)
    assert r.status == 204, f"PUT {path} ({via}): {r}"


def revoke(server: Server, subject: str, tenant: "Tenant | None" = None, purpose: str = BIOMETRIC,
           via: str = "cli"):
    if via == "cli":
        args = ["consent", "revoke", subject, purpose]
        if tenant is not None:
            args += ["--tenant", tenant.name]
        cli(server, *args)
        return
    assert tenant is not None
    path = f"/_mediagate/v1/consents/{tenant.name}/{subject}/{purpose}"
    r = api(server, "DELETE", path, tenant=tenant if via == "tenant" else None)
    assert r.status == 204, f"DELETE {path} ({via}): {r}"


# --------------------------------------------------------------------------------------------
# Plain HTTP (no credentials) and boto3 errors


def fetch(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None,
          cafile: str | None = None) -> ApiResponse:
    """urllib without raising on HTTP errors."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    ctx = None
    if url.startswith("https:"):
        import ssl
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
    try:
        with urllib.request.urlopen(req, timeout=60, context=ctx) as r:
            return ApiResponse(r.status, dict(r.headers.items()), r.read())
    except urllib.error.HTTPError as e:
        return ApiResponse(e.code, dict(e.headers.items()), e.read())


def absolute(server: Server, url: str) -> str:
    return url if "://" in url else server.endpoint + url


def err(excinfo) -> tuple[int, str]:
    e = excinfo.value
    return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code")


def expect_error(fn, status: int, code: str | None = None, head: bool = False):
    """Calls a boto3 operation and asserts it fails with `status` and `code` (HEAD answers carry no
    body, so for `head=True` only the status is checked)."""
    from botocore.exceptions import ClientError

    try:
        result = fn()
    except ClientError as e:
        got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Code"))
        assert got[0] == status, f"expected {status} {code}, got {got} {e.response.get('Error')}"
        if code is not None and not head:
            assert got[1] == code, f"expected {status} {code}, got {got} {e.response.get('Error')}"
        return e
    meta = result.get("ResponseMetadata", {}) if isinstance(result, dict) else {}
    raise AssertionError(f"expected {status} {code}, but the request succeeded "
                         f"({meta.get('HTTPStatusCode')}): {str(result)[:400]}")


def denied(fn, head: bool = False):
    return expect_error(fn, 403, "AccessDenied", head=head)


def absent(client, bucket: str, key: str):
    """The key does not exist (HEAD → 404) for `client` (root, normally)."""
    expect_error(lambda: client.head_object(Bucket=bucket, Key=key), 404, head=True)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------
# "Nothing changed": everything root can list and read in some buckets


def snapshot(root, buckets) -> dict:
    snap = {"buckets": sorted(b["Name"] for b in root.list_buckets().get("Buckets", []))}
    for bucket in buckets:
        objs = {}
        token = None
        while True:
            kw = {"Bucket": bucket}
            if token:
                kw["ContinuationToken"] = token
            page = root.list_objects_v2(**kw)
            for o in page.get("Contents", []):
                got = root.get_object(Bucket=bucket, Key=o["Key"])
                body = got["Body"].read()
                objs[o["Key"]] = (o["ETag"], o["Size"], sha(body), got.get("ContentType"))
            if not page.get("IsTruncated"):
                break
            token = page["NextContinuationToken"]
        uploads = root.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        ups = {}
        for u in uploads:
            parts = root.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"]).get("Parts", [])
            ups[(u["Key"], u["UploadId"])] = [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts]
        snap[bucket] = {"objects": objs, "uploads": ups}
    return snap


# --------------------------------------------------------------------------------------------
# A request with `Expect: 100-continue`, for large bodies the server may refuse before reading


def _read_head(sock, deadline, buf=b""):
    import socket as _socket
    while b"\r\n\r\n" not in buf and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (_socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        buf += chunk
    return buf


@dataclass
class ExpectResult:
    status: int | None  # None: the connection ended without an answer
    body_sent: bool
    body: bytes
    interim: str = ""  # "100 Continue" received, or "no answer within the wait"

    @property
    def code(self):
        return parse_error(self.body).get("Code")

    def __repr__(self):
        return f"<status {self.status} body_sent={self.body_sent} ({self.interim}) {self.body[:400]!r}>"


def expect_continue(server: Server, signer: Signer, method: str, path: str, headers: dict, body: bytes,
                    payload_hash: str, wait: float = 3.0) -> ExpectResult:
    """Sends the head with `Expect: 100-continue`, the body only after a 100, then reads the answer.
    A server that refuses early answers instead of the 100; one that refuses while reading may close
    the connection under us, which is tolerated (status None when no answer could be read)."""
    from s3util import open_socket

    hdrs = {"host": server.hostport}
    hdrs.update(headers)
    hdrs["Expect"] = "100-continue"
    hdrs.setdefault("Content-Length", str(len(body)))
    signer.sign_headers(method, path, [], hdrs, payload_hash)
    sock = open_socket("127.0.0.1", server.port, server.tls, str(server.cert) if server.cert else None, timeout=60)
    sent = False
    try:
        sock.sendall((f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
                      + "\r\n").encode())
        buf = _read_head(sock, time.monotonic() + wait)
        interim = ""
        if buf.startswith(b"HTTP/1.1 100") or not buf:
            interim = "100 Continue received" if buf else f"no answer within {wait:.0f} s"
            buf = buf.split(b"\r\n\r\n", 1)[1] if buf else b""
            sent = True
            try:
                for i in range(0, len(body), 1 << 20):
                    sock.sendall(body[i:i + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError, OSError):
                pass
            buf = _read_head(sock, time.monotonic() + 60, buf)
            while buf.startswith(b"HTTP/1.1 1") and b"\r\n\r\n" in buf:
                buf = _read_head(sock, time.monotonic() + 60, buf.split(b"\r\n\r\n", 1)[1])
        if b"\r\n\r\n" not in buf:
            return ExpectResult(None, sent, buf, interim)
        head, rest = buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        deadline = time.monotonic() + 10
        while len(rest) < length and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        return ExpectResult(status, sent, rest[:length] if length else rest, interim)
    finally:
        sock.close()
