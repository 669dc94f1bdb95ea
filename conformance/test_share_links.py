"""Share links (SPEC §4/§5, docs/policy.md "Control API"): `POST /_mediagate/v1/share-links` (admin
token or tenant-signed) → a tokenized URL that serves the object with no credentials (Range, HEAD,
conditionals), until it expires (403), is deleted (404), the creator loses the right (tenant
removed, consent revoked). Tokens carry 160 random bits, base64url, and are stored only hashed."""
from __future__ import annotations

import base64
import datetime as dt
import os
import re
import time
import urllib.parse

import pytest

from conftest import empty_bucket, unique_bucket_name
from tenants import absolute, add_tenant, api, cli, corpus, fetch, grant, revoke, uid

pytestmark = pytest.mark.mediagate_only

PATH = "/_mediagate/v1/share-links"


@pytest.fixture(scope="module")
def env(http_server, s3):
    bucket = unique_bucket_name("share")
    s3.create_bucket(Bucket=bucket)
    acme = add_tenant(http_server, "acme")
    bolt = add_tenant(http_server, "bolt", via="api")
    yield http_server, bucket, acme, bolt
    empty_bucket(s3, bucket)


def create(server, bucket, key, expires=None, tenant=None):
    body = {"bucket": bucket, "key": key}
    if expires is not None:
        body["expiresInSeconds"] = expires
    if tenant is not None:
        return api(server, "POST", PATH, body, tenant=tenant)
    return api(server, "POST", PATH, body)


def created(r):
    assert r.status == 201, r
    doc = r.json
    assert isinstance(doc, dict) and {"token", "url", "expiresAt"} <= set(doc), r
    return doc


def parse_time(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def test_link_serves_the_object_without_credentials(env, s3):
    server, bucket, _, _ = env
    key = f"share-{uid()}/doc.bin"
    data = os.urandom(10_000)
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-test")
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    doc = created(create(server, bucket, key))
    token = doc["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{27,}={0,2}", token), f"not base64url: {token!r}"
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 20, "fewer than 160 bits"
    assert urllib.parse.urlsplit(doc["url"]).path == f"/_mediagate/s/{token}", doc
    expires_at = parse_time(doc["expiresAt"])
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((expires_at - now).total_seconds() - 86_400) < 120, f"default lifetime is 1 day: {doc}"

    url = absolute(server, doc["url"])
    r = fetch(url)
    assert r.status == 200 and r.body == data, r
    assert r.header("X-Content-Type-Options") == "nosniff", r
    r = fetch(url, headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.body == data[10:20], r
    assert r.header("Content-Range") == f"bytes 10-19/{len(data)}", r
    r = fetch(url, method="HEAD")
    assert r.status == 200 and r.body == b"" and r.header("Content-Length") == str(len(data)), r
    r = fetch(url, headers={"If-None-Match": etag})
    assert r.status == 304, r
    r = fetch(url, headers={"If-Match": '"0000"'})
    assert r.status == 412, r


def test_tenant_signed_links(env, s3):
    server, bucket, acme, bolt = env
    own, foreign, outside = acme.prefix + f"{uid()}.bin", bolt.prefix + f"{uid()}.bin", f"outside-{uid()}.bin"
    for k in (own, foreign, outside):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    doc = created(create(server, bucket, own, tenant=acme))
    assert fetch(absolute(server, doc["url"])).body == own.encode()
    for k in (foreign, outside):
        r = create(server, bucket, k, tenant=acme)
        assert r.status == 403 and r.code == "AccessDenied", f"acme made a link for {k}: {r}"


def test_link_expires(env, s3):
    server, bucket, _, _ = env
    key = f"share-{uid()}/short"
    s3.put_object(Bucket=bucket, Key=key, Body=b"short")
    doc = created(create(server, bucket, key, expires=2))
    url = absolute(server, doc["url"])
    assert fetch(url).body == b"short"
    time.sleep(3.2)
    r = fetch(url)
    assert r.status == 403 and r.code == "AccessDenied", r
    assert fetch(url, method="HEAD").status == 403


def test_deleted_link_stops(env, s3):
    server, bucket, acme, _ = env
    key = acme.prefix + f"del-{uid()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"revocable")
    doc = created(create(server, bucket, key, tenant=acme))
    url = absolute(server, doc["url"])
    assert fetch(url).body == b"revocable"
    other = created(create(server, bucket, key))
    r = api(server, "DELETE", f"{PATH}/{doc['token']}")
    assert r.status == 204, r
    r = fetch(url)
    assert r.status == 404 and r.code == "NoSuchKey", r
    assert fetch(url, method="HEAD").status == 404
    r = api(server, "DELETE", f"{PATH}/{doc['token']}")
    assert r.status == 404, r
    # the other link to the same object is untouched
    assert fetch(absolute(server, other["url"])).body == b"revocable"


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", "random", "..%2F..%2Fetc%2Fpasswd", "%00",
                                   "a" * 2000])
def test_guessed_tokens(env, token):
    """Unknown tokens are 404 (403 tolerated); malformed ones may also be 400. Never the object."""
    server, _, _, _ = env
    well_formed = token in ("AAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", "random")
    if token == "random":
        token = base64.urlsafe_b64encode(os.urandom(20)).rstrip(b"=").decode()
    url = f"{server.endpoint}/_mediagate/s/{token}"
    for method in ("GET", "HEAD"):
        r = fetch(url, method=method)
        allowed = (403, 404) if well_formed else (400, 403, 404)
        assert r.status in allowed, f"{method} {url[:80]}: {r}"
    assert fetch(f"{server.endpoint}/_mediagate/s/").status in (400, 403, 404)


def test_selfie_link_follows_the_consent(env, s3):
    server, bucket, acme, _ = env
    subject = f"s-{uid()}"
    key = f"{acme.prefix}selfies/{subject}/a.jpg"
    jpeg = corpus("gray.jpg")
    grant(server, subject, acme)
    acme.client().put_object(Bucket=bucket, Key=key, Body=jpeg, ContentType="image/jpeg")
    doc = created(create(server, bucket, key, tenant=acme))
    admin_doc = created(create(server, bucket, key))
    url, admin_url = absolute(server, doc["url"]), absolute(server, admin_doc["url"])
    assert fetch(url).body == jpeg and fetch(admin_url).body == jpeg
    revoke(server, subject, acme)
    for u in (url, admin_url):
        r = fetch(u)
        assert r.status == 403 and r.body != jpeg, f"share link after the consent was revoked: {r}"
        assert fetch(u, method="HEAD").status == 403
    # a link made while there is no consent is refused, or does not serve the object
    r = create(server, bucket, key, tenant=acme)
    if r.status == 201:
        late = fetch(absolute(server, r.json["url"]))
        assert late.status == 403 and late.body != jpeg, late
    else:
        assert r.status == 403, f"link for a selfie without consent: {r}"
    grant(server, subject, acme)
    assert fetch(url).body == jpeg, "the link is checked on every use; a new grant makes it work again"
    revoke(server, subject, acme)


def test_removing_the_tenant_stops_its_links(http_server, s3, make_bucket):
    bucket = make_bucket(s3, "share-rm")
    t = add_tenant(http_server, "gone")
    key = t.prefix + "x"
    s3.put_object(Bucket=bucket, Key=key, Body=b"tenant data")
    doc = created(create(http_server, bucket, key, tenant=t))
    admin_doc = created(create(http_server, bucket, key))
    url = absolute(http_server, doc["url"])
    assert fetch(url).body == b"tenant data"
    cli(http_server, "tenant", "remove", t.name)
    r = fetch(url)
    assert r.status in (403, 404) and r.body != b"tenant data", r
    # a link made by root for the same key is not the tenant's
    assert fetch(absolute(http_server, admin_doc["url"])).body == b"tenant data"


def test_lifetime_limits(env, s3):
    server, bucket, _, _ = env
    key = f"share-{uid()}/long"
    s3.put_object(Bucket=bucket, Key=key, Body=b"long")
    doc = created(create(server, bucket, key, expires=604_800))
    left = (parse_time(doc["expiresAt"]) - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert abs(left - 604_800) < 120, doc
    for bad in (604_801, 0, -5):
        r = create(server, bucket, key, expires=bad)
        assert r.status == 400, f"expiresInSeconds={bad}: {r}"


def test_create_needs_credentials(env, s3):
    server, bucket, _, _ = env
    key = f"share-{uid()}/auth"
    s3.put_object(Bucket=bucket, Key=key, Body=b"auth")
    r = api(server, "POST", PATH, {"bucket": bucket, "key": key}, token=None)
    assert r.status == 401, r
    r = api(server, "POST", PATH, {"bucket": bucket, "key": key}, token="not-the-admin-token")
    assert r.status == 401, r
    r = api(server, "DELETE", f"{PATH}/whatever", token=None)
    assert r.status == 401, r


def test_token_is_stored_only_hashed(env, s3):
    server, bucket, _, _ = env
    key = f"share-{uid()}/hashed"
    s3.put_object(Bucket=bucket, Key=key, Body=b"hashed")
    token = created(create(server, bucket, key))["token"]
    needles = [token.encode(), base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))]
    for dirpath, _dirs, files in os.walk(server.data_dir):
        for f in files:
            p = os.path.join(dirpath, f)
            try:
                blob = open(p, "rb").read()
            except OSError:
                continue
            for n in needles:
                assert n not in blob, f"the share-link token is stored in clear in {p}"
