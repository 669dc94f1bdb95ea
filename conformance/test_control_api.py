"""Control API (SPEC §5, docs/policy.md "Control API") and the tenant commands: authentication
(admin bearer token or a tenant's SigV4 signature; 401 without or with wrong credentials, 403 outside
a tenant's rights), tenants, upload-urls / download-urls (the returned URLs really work, caps,
"writable now" checks), and the upload-url rate limit (429 SlowDown with Retry-After)."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from conftest import REGION, empty_bucket, unique_bucket_name
from s3util import Signer
from tenants import _from_raw, absent, add_tenant, api, cli, corpus, denied, fetch, grant, revoke, uid

pytestmark = pytest.mark.mediagate_only


@pytest.fixture(scope="module")
def env(http_server, s3):
    bucket = unique_bucket_name("ctl")
    s3.create_bucket(Bucket=bucket)
    acme = add_tenant(http_server, "acme")
    bolt = add_tenant(http_server, "bolt", via="api")
    yield http_server, bucket, acme, bolt
    empty_bucket(s3, bucket)


def error_doc(r, status, code=None):
    assert r.status == status, f"expected {status} {code or ''}, got {r}"
    doc = r.json
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and isinstance(doc.get("message"), str), \
        f"error body must be {{error, message}} JSON: {r}"
    if code:
        assert doc["error"] == code, r
    return doc


def qs(url: str) -> dict:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


def send_headers(headers) -> dict:
    """`headers` of an upload-url answer, as a dict (an object, or a list of pairs)."""
    if isinstance(headers, dict):
        return {str(k): str(v) for k, v in headers.items()}
    if isinstance(headers, list):
        out = {}
        for h in headers:
            if isinstance(h, dict):
                out[h.get("name")] = h.get("value")
            else:
                out[h[0]] = h[1]
        return out
    raise AssertionError(f"unexpected headers value {headers!r}")


# --------------------------------------------------------------------------------------------
# Authentication


def _endpoints(env):
    server, bucket, acme, _ = env
    key = acme.prefix + "auth"
    return [
        ("POST", "/_mediagate/v1/tenants", {"name": f"nope-{uid()}", "prefix": f"nope-{uid()}/"}),
        ("PUT", f"/_mediagate/v1/consents/{acme.name}/s1/biometric_processing", None),
        ("DELETE", f"/_mediagate/v1/consents/{acme.name}/s1/biometric_processing", None),
        ("POST", "/_mediagate/v1/upload-urls", {"bucket": bucket, "key": key}),
        ("POST", "/_mediagate/v1/download-urls", {"bucket": bucket, "key": key}),
        ("POST", "/_mediagate/v1/share-links", {"bucket": bucket, "key": key}),
        ("DELETE", "/_mediagate/v1/share-links/AAAAAAAAAAAAAAAAAAAAAAAAAAA", None),
    ]


@pytest.mark.parametrize("cred", ["none", "wrong-bearer", "empty-bearer", "basic", "unknown-access-key",
                                  "wrong-secret", "root-s3-key"])
def test_missing_or_wrong_credentials_are_401(env, s3, cred):
    server, bucket, acme, _ = env
    for method, path, body in _endpoints(env):
        if cred == "none":
            r = api(server, method, path, body, token=None)
        elif cred == "wrong-bearer":
            r = api(server, method, path, body, token=server.creds.admin_token[:-1] + "x")
        elif cred == "empty-bearer":
            r = api(server, method, path, body, token="")
        elif cred == "basic":
            raw = server.raw()
            data = json.dumps(body).encode() if body is not None else b""
            r = _from_raw(raw.send(method, path, {"host": server.hostport,
                                                  "authorization": "Basic YWRtaW46YWRtaW4="}, data))
        elif cred == "unknown-access-key":
            r = api(server, method, path, body, signer=Signer("MGUNKNOWNKEY" + uid(8).upper(), "x" * 40, REGION))
        elif cred == "wrong-secret":
            r = api(server, method, path, body, signer=Signer(acme.access_key, acme.secret_key[:-1] + "x", REGION))
        else:
            # root's S3 key signs S3 requests; the control API takes the admin token for "all tenants"
            r = api(server, method, path, body, signer=Signer(server.creds.access_key, server.creds.secret_key,
                                                              REGION))
            assert r.status in (401, 403), f"{method} {path} signed with root's S3 key: {r}"
            continue
        error_doc(r, 401)
    # nothing of the refused calls happened
    assert s3.list_objects_v2(Bucket=bucket, Prefix=acme.prefix + "auth").get("KeyCount") == 0


def test_tenant_cannot_create_tenants(env):
    server, _, acme, _ = env
    name = f"evil-{uid()}"
    r = api(server, "POST", "/_mediagate/v1/tenants", {"name": name, "prefix": name + "/"}, tenant=acme)
    error_doc(r, 403)
    listed = json.loads(cli(server, "tenant", "list", "--json").stdout)
    assert name not in {t["name"] for t in listed}


def test_unknown_endpoint_and_bad_json(env):
    server, bucket, acme, _ = env
    assert api(server, "GET", "/_mediagate/v1/no-such-thing").status == 404
    r = api(server, "POST", "/_mediagate/v1/upload-urls", b"{not json", tenant=acme)
    assert r.status == 400, r
    r = api(server, "POST", "/_mediagate/v1/upload-urls", {"key": acme.prefix + "x"}, tenant=acme)  # no bucket
    assert r.status == 400, r


# --------------------------------------------------------------------------------------------
# Tenants


def test_create_tenant_through_the_api(env, s3):
    server, bucket, _, _ = env
    name = f"api-{uid()}"
    r = api(server, "POST", "/_mediagate/v1/tenants", {"name": name, "prefix": name + "/", "buckets": [bucket]})
    assert r.status == 201, r
    doc = r.json
    assert doc["name"] == name and doc["prefix"] == name + "/" and doc["buckets"] == [bucket], doc
    assert doc["accessKeyId"] and doc["secretAccessKey"], doc
    r = api(server, "POST", "/_mediagate/v1/tenants", {"name": name, "prefix": f"other-{uid()}/"})
    error_doc(r, 409, "TenantAlreadyExists")
    # the new key works inside its prefix only
    import boto3
    from botocore.config import Config
    c = boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=doc["accessKeyId"],
                     aws_secret_access_key=doc["secretAccessKey"], region_name=REGION,
                     config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    c.put_object(Bucket=bucket, Key=name + "/k", Body=b"v")
    denied(lambda: c.put_object(Bucket=bucket, Key="k", Body=b"v"))


@pytest.mark.parametrize("name,prefix", [
    ("Upper", "upper-{u}/"), ("-dash", "dash-{u}/"), ("a" * 64, "long-{u}/"), ("sp ace", "space-{u}/"),
    ("ok-{u}", "no-slash-{u}"), ("ok-{u}", ""), ("ok-{u}", "/"), ("ok-{u}", "a-{u}/../b/"), ("ok-{u}", "../{u}/"),
])
def test_invalid_tenant_names_and_prefixes(env, name, prefix):
    server = env[0]
    u = uid()
    name, prefix = name.replace("{u}", u), prefix.replace("{u}", u)
    r = api(server, "POST", "/_mediagate/v1/tenants", {"name": name, "prefix": prefix})
    assert r.status == 400, f"name {name!r} prefix {prefix!r}: {r}"
    p = cli(server, "tenant", "add", "--prefix", prefix, "--json", "--", name, check=False)
    assert p.returncode != 0, f"CLI accepted name {name!r} prefix {prefix!r}: {p.stdout}"


def test_nested_and_shared_prefixes_are_refused(env):
    """A prefix may not be a prefix of another tenant's prefix (either way round), nor equal to one."""
    server, _, acme, _ = env
    for prefix in (acme.prefix, acme.prefix + "sub/"):
        r = api(server, "POST", "/_mediagate/v1/tenants", {"name": f"n-{uid()}", "prefix": prefix})
        assert r.status in (400, 409), f"prefix {prefix!r} next to acme's {acme.prefix!r}: {r}"
        p = cli(server, "tenant", "add", f"n-{uid()}", "--prefix", prefix, check=False)
        assert p.returncode != 0, f"CLI accepted prefix {prefix!r} next to acme's {acme.prefix!r}: {p.stdout}"
    u = uid()
    inner = f"nest-{u}/deep/"
    r = api(server, "POST", "/_mediagate/v1/tenants", {"name": f"deep-{u}", "prefix": inner})
    assert r.status == 201, r
    r = api(server, "POST", "/_mediagate/v1/tenants", {"name": f"outer-{u}", "prefix": f"nest-{u}/"})
    assert r.status in (400, 409), f"prefix nest-{u}/ contains tenant deep-{u}'s {inner!r}: {r}"
    p = cli(server, "tenant", "add", f"outer2-{u}", "--prefix", f"nest-{u}/", check=False)
    assert p.returncode != 0, p.stdout


def test_tenant_commands(env, s3):
    server, bucket, _, _ = env
    name = f"cmd-{uid()}"
    p = cli(server, "tenant", "add", name, "--prefix", name + "/")
    parts = p.stdout.split()
    assert len(parts) == 2, f"`tenant add` prints ACCESS_KEY SECRET_KEY: {p.stdout!r}"
    ak, sk = parts
    assert cli(server, "tenant", "add", name, "--prefix", f"x-{uid()}/", check=False).returncode != 0

    text = cli(server, "tenant", "list").stdout
    line = [l for l in text.splitlines() if l.split()[:1] == [name]]
    assert line and name + "/" in line[0] and ak in line[0], text
    listed = {t["name"]: t for t in json.loads(cli(server, "tenant", "list", "--json").stdout)}
    assert listed[name]["prefix"] == name + "/" and ak in listed[name]["accessKeyIds"], listed[name]
    assert sk not in text, "tenant list must not print secrets"

    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    def client(a, s):
        return boto3.client("s3", endpoint_url=server.endpoint, aws_access_key_id=a, aws_secret_access_key=s,
                            region_name=REGION, config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                                              retries={"total_max_attempts": 1}))

    client(ak, sk).put_object(Bucket=bucket, Key=name + "/a", Body=b"1")
    rot = json.loads(cli(server, "tenant", "rotate-key", name, "--json").stdout)
    ak2, sk2 = rot["accessKeyId"], rot["secretAccessKey"]
    assert ak2 != ak
    with pytest.raises(ClientError) as ei:
        client(ak, sk).get_object(Bucket=bucket, Key=name + "/a")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, ei.value.response
    assert client(ak2, sk2).get_object(Bucket=bucket, Key=name + "/a")["Body"].read() == b"1"
    # the rotated key also signs control API requests; the old one no longer does
    t_new = Signer(ak2, sk2, REGION)
    r = api(server, "POST", "/_mediagate/v1/download-urls", {"bucket": bucket, "key": name + "/a"}, signer=t_new)
    assert r.status == 200, r
    r = api(server, "POST", "/_mediagate/v1/download-urls", {"bucket": bucket, "key": name + "/a"},
            signer=Signer(ak, sk, REGION))
    assert r.status == 401, r

    cli(server, "tenant", "remove", name)
    with pytest.raises(ClientError) as ei:
        client(ak2, sk2).get_object(Bucket=bucket, Key=name + "/a")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    r = api(server, "POST", "/_mediagate/v1/download-urls", {"bucket": bucket, "key": name + "/a"}, signer=t_new)
    assert r.status == 401, r
    assert name not in {t["name"] for t in json.loads(cli(server, "tenant", "list", "--json").stdout)}
    assert s3.get_object(Bucket=bucket, Key=name + "/a")["Body"].read() == b"1", "objects stay"


# --------------------------------------------------------------------------------------------
# upload-urls / download-urls


def upload_url(server, body, tenant=None):
    return api(server, "POST", "/_mediagate/v1/upload-urls", body, tenant=tenant)


def download_url(server, body, tenant=None):
    return api(server, "POST", "/_mediagate/v1/download-urls", body, tenant=tenant)


@pytest.mark.parametrize("caller", ["tenant", "admin"])
def test_upload_and_download_urls_work(env, s3, caller):
    server, bucket, acme, _ = env
    t = acme if caller == "tenant" else None
    key = acme.prefix + f"up-{uid()}.bin"
    r = upload_url(server, {"bucket": bucket, "key": key}, tenant=t)
    assert r.status == 200, r
    doc = r.json
    assert doc["key"] == key and doc["expiresInSeconds"] == 600, doc
    assert "headers" in doc, doc
    u = urllib.parse.urlsplit(doc["uploadUrl"])
    assert u.netloc == server.hostport, f"URL must use the Host the request came to: {doc['uploadUrl']}"
    q = qs(doc["uploadUrl"])
    assert q["X-Amz-Expires"] == "600", q
    expected_key = acme.access_key if t else server.creds.access_key
    assert q["X-Amz-Credential"].startswith(expected_key + "/"), q
    data = b"uploaded through an upload url " + uid().encode()
    res = fetch(doc["uploadUrl"], method="PUT", data=data, headers=send_headers(doc["headers"]))
    assert res.status == 200, res
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data

    r = download_url(server, {"bucket": bucket, "key": key}, tenant=t)
    assert r.status == 200, r
    d = r.json
    assert d["expiresInSeconds"] == 900 and qs(d["url"])["X-Amz-Expires"] == "900", d
    assert urllib.parse.urlsplit(d["url"]).netloc == server.hostport
    assert fetch(d["url"]).body == data
    r = download_url(server, {"bucket": bucket, "key": key, "expiresInSeconds": 60}, tenant=t)
    assert r.status == 200 and r.json["expiresInSeconds"] == 60 and qs(r.json["url"])["X-Amz-Expires"] == "60", r


def test_upload_url_with_content_type_is_a_signed_header(env, s3):
    server, bucket, acme, _ = env
    key = acme.prefix + f"photos/{uid()}.jpg"
    jpeg = corpus("gray.jpg")
    r = upload_url(server, {"bucket": bucket, "key": key, "contentType": "image/jpeg",
                            "contentLength": len(jpeg)}, tenant=acme)
    assert r.status == 200, r
    doc = r.json
    hdrs = send_headers(doc["headers"])
    assert {k.lower(): v for k, v in hdrs.items()}.get("content-type") == "image/jpeg", doc
    assert "content-type" in qs(doc["uploadUrl"])["X-Amz-SignedHeaders"].split(";"), doc
    # another type than the one signed: refused, nothing stored
    res = fetch(doc["uploadUrl"], method="PUT", data=corpus("alpha.png"), headers={"Content-Type": "image/png"})
    assert res.status == 403, res
    absent(s3, bucket, key)
    res = fetch(doc["uploadUrl"], method="PUT", data=jpeg, headers=hdrs)
    assert res.status == 200, res
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == jpeg and got["ContentType"] == "image/jpeg"


def test_urls_for_foreign_keys_are_403(env, s3):
    server, bucket, acme, bolt = env
    s3.put_object(Bucket=bucket, Key=bolt.prefix + "secret", Body=b"bolt's")
    for body in ({"bucket": bucket, "key": bolt.prefix + "secret"}, {"bucket": bucket, "key": "outside"},
                 {"bucket": bucket, "key": acme.prefix[:-1]}):
        error_doc(upload_url(server, body, tenant=acme), 403)
        error_doc(download_url(server, body, tenant=acme), 403)
    assert s3.get_object(Bucket=bucket, Key=bolt.prefix + "secret")["Body"].read() == b"bolt's"


def test_url_lifetimes_over_the_cap_are_400(env, s3):
    server, bucket, acme, _ = env
    key = acme.prefix + "cap"
    s3.put_object(Bucket=bucket, Key=key, Body=b"cap")
    for exp, status in ((601, 400), (3600, 400), (600, 200), (1, 200)):
        r = upload_url(server, {"bucket": bucket, "key": key, "expiresInSeconds": exp}, tenant=acme)
        assert r.status == status, f"upload-urls expiresInSeconds={exp}: {r}"
        if status == 400:
            error_doc(r, 400, "InvalidArgument")
        else:
            assert r.json["expiresInSeconds"] == exp
    for exp, status in ((901, 400), (86400, 400), (900, 200)):
        r = download_url(server, {"bucket": bucket, "key": key, "expiresInSeconds": exp}, tenant=acme)
        assert r.status == status, f"download-urls expiresInSeconds={exp}: {r}"
        if status == 400:
            error_doc(r, 400, "InvalidArgument")


def test_upload_url_requires_the_key_to_be_writable_now(env):
    server, bucket, acme, _ = env
    subject = f"w-{uid()}"
    selfie = f"{acme.prefix}selfies/{subject}/a.jpg"
    error_doc(upload_url(server, {"bucket": bucket, "key": selfie, "contentType": "image/jpeg"}, tenant=acme), 403)
    grant(server, subject, acme)
    acme.client().put_object(Bucket=bucket, Key=selfie, Body=corpus("gray.jpg"), ContentType="image/jpeg")
    assert download_url(server, {"bucket": bucket, "key": selfie}, tenant=acme).status == 200
    revoke(server, subject, acme)
    error_doc(download_url(server, {"bucket": bucket, "key": selfie}, tenant=acme), 403)
    error_doc(upload_url(server, {"bucket": bucket, "key": selfie, "contentType": "image/jpeg"}, tenant=acme), 403)
    grant(server, subject, acme)
    r = upload_url(server, {"bucket": bucket, "key": selfie, "contentType": "image/jpeg"}, tenant=acme)
    assert r.status == 200, r
    r = upload_url(server, {"bucket": bucket, "key": selfie, "contentType": "image/gif"}, tenant=acme)
    error_doc(r, 400, "InvalidArgument")
    r = upload_url(server, {"bucket": bucket, "key": selfie, "contentType": "image/jpeg",
                            "contentLength": 16_000_000}, tenant=acme)
    error_doc(r, 400, "EntityTooLarge")
    r = upload_url(server, {"bucket": bucket, "key": acme.prefix + "photos/x.html", "contentType": "text/html"},
                   tenant=acme)
    error_doc(r, 400, "InvalidArgument")


def test_upload_url_rate_limit(env):
    server, bucket, acme, bolt = env
    s1, s2 = f"rl1-{uid()}", f"rl2-{uid()}"
    for s in (s1, s2):
        grant(server, s, acme)
    grant(server, s1, bolt)

    def ask(tenant, subject, i):
        key = f"{tenant.prefix}selfies/{subject}/{i}.jpg"
        return upload_url(server, {"bucket": bucket, "key": key, "contentType": "image/jpeg"}, tenant=tenant)

    for i in range(30):
        r = ask(acme, s1, i)
        assert r.status == 200, f"request {i + 1} of 30 within the minute: {r}"
    r = ask(acme, s1, 30)
    error_doc(r, 429, "SlowDown")
    retry = r.header("Retry-After")
    assert retry is not None and retry.isdigit() and 1 <= int(retry) <= 60, f"Retry-After: {retry!r}"
    # other subjects, the same subject under another tenant, and the tenant's own non-subject keys
    assert ask(acme, s2, 0).status == 200
    assert ask(bolt, s1, 0).status == 200
    r = upload_url(server, {"bucket": bucket, "key": acme.prefix + "plain.bin"}, tenant=acme)
    assert r.status == 200, r
    # the limit holds for the admin token too
    r = upload_url(server, {"bucket": bucket, "key": f"{acme.prefix}selfies/{s1}/admin.jpg"})
    assert r.status == 429, r
