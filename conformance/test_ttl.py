"""Presigned-URL lifetime caps (SPEC §4 "Signed-URL expiry", docs/policy.md "Presigned URLs"): with
the default rules GET/HEAD may live 900 s and every other method 600 s; a longer X-Amz-Expires is
AccessDenied even though correctly signed, an expired URL is AccessDenied "Request has expired", root
is bound too, and `mediagate presign` refuses to make such URLs."""
from __future__ import annotations

import datetime as dt
import subprocess
import time
import urllib.parse

import pytest

from conftest import Server, empty_bucket, unique_bucket_name
from s3util import RawClient, amz_date, key_path
from tenants import add_tenant, cli, fetch, uid

pytestmark = pytest.mark.mediagate_only


class Who:
    def __init__(self, label: str, raw: RawClient, client, prefix: str, access_key: str):
        self.label, self.raw, self.client, self.prefix, self.access_key = label, raw, client, prefix, access_key


@pytest.fixture(scope="module")
def env(http_server, s3):
    bucket = unique_bucket_name("ttl")
    s3.create_bucket(Bucket=bucket)
    tenant = add_tenant(http_server, "ttl")
    yield http_server, bucket, tenant
    empty_bucket(s3, bucket)


@pytest.fixture(params=["root", "tenant"])
def who(request, env, s3) -> Who:
    server, bucket, tenant = env
    if request.param == "root":
        return Who("root", server.raw(), s3, f"ttl-root-{uid()}/", server.creds.access_key)
    return Who("tenant", tenant.raw(), tenant.client(), tenant.prefix + f"{uid()}/", tenant.access_key)


def _denied(r, expired: bool = False, head: bool = False):
    assert r.status == 403, f"expected 403 AccessDenied, got {r}"
    if not head:
        assert r.error.get("Code") == "AccessDenied", r
        if expired:
            assert "Request has expired" in r.error.get("Message", ""), r


def test_presigned_get_cap_900(env, who):
    server, bucket, _ = env
    key = who.prefix + "obj"
    who.client.put_object(Bucket=bucket, Key=key, Body=b"ttl body")
    path = key_path(bucket, key)
    for expires in (60, 900):
        r = who.raw.presigned("GET", path, expires)
        assert (r.status, r.body) == (200, b"ttl body"), f"X-Amz-Expires={expires}: {r}"
    for expires in (901, 3600, 604800):
        _denied(who.raw.presigned("GET", path, expires))
    # and the same through boto3's presigner
    ok = who.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
    assert fetch(ok).body == b"ttl body"
    long = who.client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
    r = fetch(long)
    assert (r.status, r.code) == (403, "AccessDenied"), r


def test_presigned_head_uses_the_get_cap(env, who):
    server, bucket, _ = env
    key = who.prefix + "head"
    who.client.put_object(Bucket=bucket, Key=key, Body=b"12345")
    r = who.raw.presigned("HEAD", key_path(bucket, key), 900)
    assert r.status == 200 and r.header("Content-Length") == "5", r
    _denied(who.raw.presigned("HEAD", key_path(bucket, key), 901), head=True)


def test_presigned_put_cap_600(env, who, s3):
    server, bucket, _ = env
    key = who.prefix + "up"
    path = key_path(bucket, key)
    for expires in (601, 900, 3600):
        _denied(who.raw.presigned("PUT", path, expires, body=b"too long-lived"))
        r = s3.list_objects_v2(Bucket=bucket, Prefix=key)
        assert r.get("KeyCount") == 0, f"a refused presigned PUT (expires {expires}) stored the object"
    r = who.raw.presigned("PUT", path, 600, body=b"within the cap")
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"within the cap"
    # a refused overwrite keeps the object
    _denied(who.raw.presigned("PUT", path, 900, body=b"overwrite"))
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"within the cap"
    url = who.client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
    r = fetch(url, method="PUT", data=b"boto3 long")
    assert (r.status, r.code) == (403, "AccessDenied"), r
    url = who.client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    r = fetch(url, method="PUT", data=b"boto3 ok")
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"boto3 ok"


def test_presigned_delete_uses_the_put_cap(env, who, s3):
    server, bucket, _ = env
    key = who.prefix + "del"
    who.client.put_object(Bucket=bucket, Key=key, Body=b"keep me")
    _denied(who.raw.presigned("DELETE", key_path(bucket, key), 601))
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"keep me"
    r = who.raw.presigned("DELETE", key_path(bucket, key), 600)
    assert r.status == 204, r
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0


def test_expired_url_is_refused(env, who, s3):
    server, bucket, _ = env
    key = who.prefix + "exp"
    who.client.put_object(Bucket=bucket, Key=key, Body=b"old")
    past = amz_date(dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5))
    _denied(who.raw.presigned("GET", key_path(bucket, key), 60, date=past), expired=True)
    _denied(who.raw.presigned("PUT", key_path(bucket, key), 60, date=past, body=b"new"), expired=True)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"old"
    # still valid: signed 5 minutes ago for 10 minutes
    r = who.raw.presigned("GET", key_path(bucket, key), 600, date=past)
    assert (r.status, r.body) == (200, b"old"), r


def test_url_expires_while_held(env, s3):
    server, bucket, tenant = env
    key = tenant.prefix + f"short-{uid()}"
    tenant.client().put_object(Bucket=bucket, Key=key, Body=b"short-lived")
    url = tenant.client().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=1)
    time.sleep(2.2)
    r = fetch(url)
    assert r.status == 403 and r.code == "AccessDenied", r
    from s3util import parse_error
    assert "Request has expired" in parse_error(r.body).get("Message", ""), r


# --------------------------------------------------------------------------------------------
# `mediagate presign`


def _presign(server: Server, *args) -> subprocess.CompletedProcess:
    return cli(server, "presign", *args, "--endpoint", server.endpoint, check=False)


def test_cli_presign_refuses_over_the_cap(env, s3):
    server, bucket, tenant = env
    key = f"cli-{uid()}/obj"
    s3.put_object(Bucket=bucket, Key=key, Body=b"cli presign")
    for method, expires in (("GET", 3600), ("GET", 901), ("PUT", 900), ("PUT", 601)):
        p = _presign(server, method, f"s3://{bucket}/{key}", "--expires", str(expires))
        assert p.returncode != 0, f"presign {method} --expires {expires} made a URL: {p.stdout!r}"
        assert "http" not in p.stdout, p.stdout
    p = _presign(server, "GET", f"s3://{bucket}/{key}", "--expires", "900")
    assert p.returncode == 0, p.stderr
    assert fetch(p.stdout.strip()).body == b"cli presign"
    p = _presign(server, "PUT", f"s3://{bucket}/{key}", "--expires", "600")
    assert p.returncode == 0, p.stderr
    assert fetch(p.stdout.strip(), method="PUT", data=b"cli put").status == 200
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"cli put"


def test_cli_presign_with_tenant_uses_the_tenants_key(env, s3):
    server, bucket, tenant = env
    key = tenant.prefix + f"cli-{uid()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"tenant presign")
    p = _presign(server, "GET", f"s3://{bucket}/{key}", "--tenant", tenant.name)
    assert p.returncode == 0, p.stderr
    url = p.stdout.strip()
    cred = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Credential"][0]
    assert cred.startswith(tenant.access_key + "/"), cred
    assert fetch(url).body == b"tenant presign"
    p = _presign(server, "GET", f"s3://{bucket}/{key}", "--tenant", tenant.name, "--expires", "3600")
    assert p.returncode != 0, p.stdout
    # a tenant URL for a key outside its prefix: refused by the CLI or by the server
    foreign = f"not-{tenant.prefix}x"
    s3.put_object(Bucket=bucket, Key=foreign, Body=b"x")
    p = _presign(server, "GET", f"s3://{bucket}/{foreign}", "--tenant", tenant.name)
    if p.returncode == 0:
        r = fetch(p.stdout.strip())
        assert (r.status, r.code) == (403, "AccessDenied"), r
