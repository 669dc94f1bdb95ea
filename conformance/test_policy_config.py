"""Rules, rate limit and share-link lifetime from the config file (docs/policy.md "Rules"): config
rules come before the defaults (same pattern overrides), globs `*` (one segment), `**` and `{name}`
(one non-empty segment), sizes in powers of 1000. One private server started with `--config`."""
from __future__ import annotations

import shutil

import pytest

from s3util import key_path
from tenants import absent, add_tenant, api, corpus, expect_error, fetch, grant, uid

pytestmark = pytest.mark.mediagate_only

CONFIG = """\
rules:
  - pattern: "short/**"
    contentTypes: any
    maxSize: 1KB
    presignMaxTTL: { GET: 60, PUT: 30 }
  - pattern: "selfies/{subject}/**"
    consent: { purpose: biometric_processing, subject: subject }
    contentTypes: [jpeg]
    maxSize: 100KB
    presignMaxTTL: { GET: 300, PUT: 120 }
  - pattern: "docs/{owner}/*.pdf"
    contentTypes: [application/pdf]
    maxSize: 5MB
rateLimits:
  uploadUrlsPerMinute: 3
shareLinks:
  maxTTL: 100
"""


@pytest.fixture(scope="module")
def cfg(pool):
    server = pool.private("policy-config")
    config = server.base / "mediagate.yaml"
    config.write_text(CONFIG)
    base_command = server.command
    server.command = lambda: base_command() + ["--config", str(config)]
    server.start()
    try:
        s3 = server.client()
        bucket = f"cfg-{uid()}"
        s3.create_bucket(Bucket=bucket)
        yield server, s3, bucket
    finally:
        server.stop()
        shutil.rmtree(server.sandbox, ignore_errors=True)


def test_config_rule_presign_caps(cfg):
    server, s3, bucket = cfg
    key = f"short/{uid()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"short")
    raw = server.raw()
    assert raw.presigned("GET", key_path(bucket, key), 60).body == b"short"
    r = raw.presigned("GET", key_path(bucket, key), 61)
    assert r.status == 403 and r.error.get("Code") == "AccessDenied", r
    assert raw.presigned("PUT", key_path(bucket, key), 30, body=b"new").status == 200
    r = raw.presigned("PUT", key_path(bucket, key), 31, body=b"newer")
    assert r.status == 403 and r.error.get("Code") == "AccessDenied", r
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"new"
    # other keys keep the defaults
    other = f"other-{uid()}"
    s3.put_object(Bucket=bucket, Key=other, Body=b"o")
    assert raw.presigned("GET", key_path(bucket, other), 900).status == 200


def test_config_rule_max_size_in_powers_of_1000(cfg):
    server, s3, bucket = cfg
    key = f"short/{uid()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"a" * 1000)
    expect_error(lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"b" * 1001), 400, "EntityTooLarge")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"a" * 1000


def test_config_rule_overrides_the_default_selfie_rule(cfg):
    server, s3, bucket = cfg
    acme = add_tenant(server, "cfg")
    subject = f"s-{uid()}"
    grant(server, subject, acme)
    c, base = acme.client(), f"{acme.prefix}selfies/{subject}/"
    c.put_object(Bucket=bucket, Key=base + "ok.jpg", Body=corpus("gray.jpg"), ContentType="image/jpeg")
    expect_error(lambda: c.put_object(Bucket=bucket, Key=base + "a.png", Body=corpus("alpha.png"),
                                      ContentType="image/png"), 400, "InvalidArgument")
    big = corpus("exif-orientation-3.jpg")
    assert len(big) > 100_000
    expect_error(lambda: c.put_object(Bucket=bucket, Key=base + "big.jpg", Body=big, ContentType="image/jpeg"),
                 400, "EntityTooLarge")
    absent(s3, bucket, base + "a.png")
    absent(s3, bucket, base + "big.jpg")
    raw = acme.raw()
    assert raw.presigned("GET", key_path(bucket, base + "ok.jpg"), 300).status == 200
    assert raw.presigned("GET", key_path(bucket, base + "ok.jpg"), 301).status == 403
    # the consent of the overriding rule is still required
    other = f"{acme.prefix}selfies/nobody-{uid()}/x.jpg"
    expect_error(lambda: c.put_object(Bucket=bucket, Key=other, Body=corpus("gray.jpg"), ContentType="image/jpeg"),
                 403, "AccessDenied")


@pytest.mark.parametrize("key,ctype,ok", [
    ("docs/bob/a.pdf", "application/pdf", True),
    ("docs/bob/a.pdf", "text/html", False),            # `docs/{owner}/*.pdf` matches: pdf only
    ("docs/bob/sub/a.pdf", "text/html", True),         # `*` does not cross a segment: default `**`
    ("docs//a.pdf", "text/html", False),               # `{owner}` captures the empty segment: pdf only
    ("docs/bob/a.pdf.txt", "text/html", True),         # `*.pdf` must end in .pdf
])
def test_config_globs(cfg, key, ctype, ok):
    server, s3, bucket = cfg
    key = key.replace("bob", f"bob-{uid()}")
    body = b"%PDF-1.4\n%%EOF\n" if ctype == "application/pdf" else b"<html></html>"
    put = lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=ctype)  # noqa: E731
    if ok:
        put()
        assert s3.get_object(Bucket=bucket, Key=key)["ContentType"] == ctype
        s3.delete_object(Bucket=bucket, Key=key)
    else:
        expect_error(put, 400, "InvalidArgument")
        absent(s3, bucket, key)


def test_config_rate_limit(cfg):
    server, s3, bucket = cfg
    t = add_tenant(server, "rl")
    for i in range(3):
        r = api(server, "POST", "/_mediagate/v1/upload-urls", {"bucket": bucket, "key": f"{t.prefix}{i}"}, tenant=t)
        assert r.status == 200, r
    r = api(server, "POST", "/_mediagate/v1/upload-urls", {"bucket": bucket, "key": f"{t.prefix}3"}, tenant=t)
    assert r.status == 429 and r.code == "SlowDown" and r.header("Retry-After"), r


def test_config_share_link_max_ttl(cfg):
    server, s3, bucket = cfg
    key = f"share-{uid()}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"shared")
    r = api(server, "POST", "/_mediagate/v1/share-links", {"bucket": bucket, "key": key, "expiresInSeconds": 100})
    assert r.status == 201, r
    assert fetch(r.json["url"] if "://" in r.json["url"] else server.endpoint + r.json["url"]).body == b"shared"
    r = api(server, "POST", "/_mediagate/v1/share-links", {"bucket": bucket, "key": key, "expiresInSeconds": 101})
    assert r.status == 400, r
