"""Consent (SPEC §4, docs/policy.md "Consent"): keys matching `selfies/{subject}/**` need an active
`biometric_processing` consent for (owning tenant, subject): every read, write, copy, multipart step
and presigned use is AccessDenied without it, root included; DELETE always works; a revocation applies
to the next request and to URLs presigned earlier. Granted and revoked through the CLI, the control
API with the admin token, and the control API signed by the tenant itself."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from conftest import empty_bucket, unique_bucket_name
from tenants import (BIOMETRIC, absent, add_tenant, api, corpus, denied, fetch, grant, revoke, uid)

pytestmark = pytest.mark.mediagate_only

JPEG = "gray.jpg"


@pytest.fixture(scope="module")
def env(http_server, s3):
    bucket = unique_bucket_name("consent")
    s3.create_bucket(Bucket=bucket)
    acme = add_tenant(http_server, "acme")
    bolt = add_tenant(http_server, "bolt", via="api")
    yield http_server, bucket, acme, bolt
    empty_bucket(s3, bucket)


def rfc3339(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def put_jpeg(client, bucket, key, data=None):
    return client.put_object(Bucket=bucket, Key=key, Body=data or corpus(JPEG), ContentType="image/jpeg")


def test_lifecycle_through_the_cli(env, s3):
    server, bucket, acme, bolt = env
    jpeg = corpus(JPEG)
    u1, u2 = f"u1-{uid()}", f"u2-{uid()}"
    key = f"{acme.prefix}selfies/{u1}/a.jpg"
    c = acme.client()

    denied(lambda: put_jpeg(c, bucket, key))
    denied(lambda: put_jpeg(s3, bucket, key))  # root is bound too

    grant(server, u1, acme)
    absent(s3, bucket, key)  # the refused uploads left nothing
    put_jpeg(c, bucket, key)
    got = c.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == jpeg and got["ContentType"] == "image/jpeg"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == jpeg
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    assert fetch(url).body == jpeg, "presigned GET while the consent is active"

    # another subject is unaffected by u1's grant, by another purpose, and by bolt's grant for u2
    key2 = f"{acme.prefix}selfies/{u2}/a.jpg"
    denied(lambda: put_jpeg(c, bucket, key2))
    grant(server, u2, acme, purpose="marketing")
    denied(lambda: put_jpeg(c, bucket, key2))
    grant(server, u2, bolt)
    denied(lambda: put_jpeg(c, bucket, key2))
    denied(lambda: put_jpeg(s3, bucket, key2))

    revoke(server, u1, acme)
    r = fetch(url)
    assert (r.status, r.code) == (403, "AccessDenied"), f"URL presigned before the revocation: {r}"
    denied(lambda: c.get_object(Bucket=bucket, Key=key))
    denied(lambda: s3.get_object(Bucket=bucket, Key=key))
    denied(lambda: s3.head_object(Bucket=bucket, Key=key), head=True)
    denied(lambda: c.get_object(Bucket=bucket, Key=key, Range="bytes=0-1"))
    denied(lambda: put_jpeg(c, bucket, key))
    denied(lambda: c.copy_object(Bucket=bucket, Key=acme.prefix + f"copied-{uid()}.jpg",
                                 CopySource={"Bucket": bucket, "Key": key}))
    denied(lambda: s3.copy_object(Bucket=bucket, Key=f"{acme.prefix}selfies/{u1}/b.jpg",
                                  CopySource={"Bucket": bucket, "Key": key}))
    new_url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    assert fetch(new_url).status == 403

    # erasure needs no consent
    c.delete_object(Bucket=bucket, Key=key)
    grant(server, u1, acme)
    absent(s3, bucket, key)
    revoke(server, u1, acme)


@pytest.mark.parametrize("via", ["admin", "tenant"])
def test_lifecycle_through_the_api(env, s3, via):
    server, bucket, acme, bolt = env
    jpeg = corpus(JPEG)
    subject = f"api-{uid()}"
    key = f"{acme.prefix}selfies/{subject}/a.jpg"
    c = acme.client()
    denied(lambda: put_jpeg(c, bucket, key))
    grant(server, subject, acme, via=via)
    put_jpeg(c, bucket, key)
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == jpeg
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
    assert fetch(url).body == jpeg
    revoke(server, subject, acme, via=via)
    denied(lambda: c.get_object(Bucket=bucket, Key=key))
    denied(lambda: s3.get_object(Bucket=bucket, Key=key))
    assert fetch(url).status == 403
    # revoking again (nothing active) is still 204
    revoke(server, subject, acme, via=via)
    c.delete_object(Bucket=bucket, Key=key)


def test_a_tenant_cannot_grant_for_another_tenant(env, s3):
    server, bucket, acme, bolt = env
    subject = f"x-{uid()}"
    for method in ("PUT", "DELETE"):
        r = api(server, method, f"/_mediagate/v1/consents/{acme.name}/{subject}/{BIOMETRIC}", tenant=bolt)
        assert r.status == 403, f"{method} of acme's consent signed by bolt: {r}"
    denied(lambda: put_jpeg(acme.client(), bucket, f"{acme.prefix}selfies/{subject}/a.jpg"))


def test_until(env, s3):
    server, bucket, acme, _ = env
    c = acme.client()
    past_cli, past_api, future, soon = (f"{n}-{uid()}" for n in ("past-cli", "past-api", "future", "soon"))
    grant(server, past_cli, acme, until=rfc3339(-dt.timedelta(hours=1)))
    grant(server, past_api, acme, until=rfc3339(-dt.timedelta(hours=1)), via="admin")
    grant(server, future, acme, until=rfc3339(dt.timedelta(hours=1)))
    for subject in (past_cli, past_api):
        denied(lambda: put_jpeg(c, bucket, f"{acme.prefix}selfies/{subject}/a.jpg"))
    put_jpeg(c, bucket, f"{acme.prefix}selfies/{future}/a.jpg")
    # a consent that runs out while the object is there
    grant(server, soon, acme, until=rfc3339(dt.timedelta(seconds=3)), via="tenant")
    key = f"{acme.prefix}selfies/{soon}/a.jpg"
    put_jpeg(c, bucket, key)
    time.sleep(4.5)
    denied(lambda: c.get_object(Bucket=bucket, Key=key))
    # a grant with a later end replaces the lapsed one
    grant(server, soon, acme, until=rfc3339(dt.timedelta(hours=1)))
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == corpus(JPEG)


def test_keys_outside_every_tenant_use_the_consent_without_tenant(env, s3):
    server, bucket, acme, _ = env
    subject = f"root-{uid()}"
    key = f"selfies/{subject}/a.jpg"
    denied(lambda: put_jpeg(s3, bucket, key))
    grant(server, subject, acme)  # acme's consent is not the one this key needs
    denied(lambda: put_jpeg(s3, bucket, key))
    grant(server, subject)
    put_jpeg(s3, bucket, key)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == corpus(JPEG)
    revoke(server, subject)
    denied(lambda: s3.get_object(Bucket=bucket, Key=key))
    s3.delete_object(Bucket=bucket, Key=key)


def test_multipart_copy_and_batch_delete_under_consent(env, s3):
    server, bucket, acme, _ = env
    c = acme.client()
    jpeg = corpus(JPEG)
    subject = f"mp-{uid()}"
    base = f"{acme.prefix}selfies/{subject}/"
    denied(lambda: c.create_multipart_upload(Bucket=bucket, Key=base + "mp.jpg", ContentType="image/jpeg"))

    grant(server, subject, acme)
    up = c.create_multipart_upload(Bucket=bucket, Key=base + "mp.jpg", ContentType="image/jpeg")["UploadId"]
    e1 = c.upload_part(Bucket=bucket, Key=base + "mp.jpg", UploadId=up, PartNumber=1, Body=jpeg)["ETag"]
    c.put_object(Bucket=bucket, Key=acme.prefix + f"plain-{uid()}.jpg", Body=jpeg, ContentType="image/jpeg")
    put_jpeg(c, bucket, base + "a.jpg")
    up2 = c.create_multipart_upload(Bucket=bucket, Key=base + "mp2.jpg", ContentType="image/jpeg")["UploadId"]

    revoke(server, subject, acme)
    denied(lambda: c.upload_part(Bucket=bucket, Key=base + "mp.jpg", UploadId=up, PartNumber=2, Body=b"x" * 10))
    denied(lambda: c.complete_multipart_upload(Bucket=bucket, Key=base + "mp.jpg", UploadId=up,
                                               MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]}))
    denied(lambda: c.upload_part_copy(Bucket=bucket, Key=base + "mp.jpg", UploadId=up, PartNumber=1,
                                      CopySource={"Bucket": bucket, "Key": base + "a.jpg"}))
    denied(lambda: c.copy_object(Bucket=bucket, Key=base + "b.jpg",
                                 CopySource={"Bucket": bucket, "Key": base + "a.jpg"}))
    # abort and deletes are always allowed
    c.abort_multipart_upload(Bucket=bucket, Key=base + "mp2.jpg", UploadId=up2)
    res = c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": base + "a.jpg"}, {"Key": base + "b.jpg"}]})
    assert not res.get("Errors"), res
    assert sorted(d["Key"] for d in res.get("Deleted", [])) == [base + "a.jpg", base + "b.jpg"]

    grant(server, subject, acme)
    absent(s3, bucket, base + "a.jpg")
    absent(s3, bucket, base + "b.jpg")
    ups = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix=base).get("Uploads", [])}
    assert up2 not in ups and up in ups
    done = c.complete_multipart_upload(Bucket=bucket, Key=base + "mp.jpg", UploadId=up,
                                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert done["ETag"].endswith('-1"')
    assert c.get_object(Bucket=bucket, Key=base + "mp.jpg")["Body"].read() == jpeg
    revoke(server, subject, acme)
    c.delete_object(Bucket=bucket, Key=base + "mp.jpg")
