"""Content checks on writes (SPEC §4, docs/policy.md "Content checks"), with the image corpus:
declared type allowed by the rule, bytes matching any type with a known signature (under every
rule), sniffing of missing/generic types, size limits (EntityTooLarge, also for aws-chunked bodies),
nothing kept of a refused upload, previous object intact, `X-Content-Type-Options: nosniff`."""
from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError

from conftest import empty_bucket, unique_bucket_name
from s3util import (STREAMING_UNSIGNED_TRAILER, UNSIGNED, checksum_b64, key_path, split_chunks,
                    unsigned_chunked_body)
from tenants import (HTML, absent, add_tenant, corpus, expect_continue, expect_error, fetch, grant, uid)

pytestmark = pytest.mark.mediagate_only

SELFIE_MAX = 15_000_000  # "15 MB", powers of 1000 (docs/policy.md)

# corpus file → its type
IMAGES = {
    "gray.jpg": "image/jpeg",
    "alpha.png": "image/png",
    "static.gif": "image/gif",
    "input.webp": "image/webp",
    "input.avif": "image/avif",
    "input.heic": "image/heic",
}
NOT_IMAGES = {
    "html": HTML,
    "hostile/not-an-image.jpg": None,
    "hostile/empty.jpg": None,
}


def body_of(name: str) -> bytes:
    return NOT_IMAGES[name] if NOT_IMAGES.get(name) is not None else corpus(name)


def padded_jpeg(size: int) -> bytes:
    head = corpus("gray.jpg")
    return head + b"\0" * (size - len(head))


def big_body(size: int) -> io.BytesIO:
    """A file-like body, so that boto3 sends `Expect: 100-continue` and can read an early refusal."""
    return io.BytesIO(padded_jpeg(size))


def invalid_argument(fn):
    e = expect_error(fn, 400, "InvalidArgument")
    arg = e.response["Error"].get("ArgumentName")
    assert arg in (None, "Content-Type"), e.response["Error"]  # checked strictly with raw requests below
    return e


def too_large(fn):
    return expect_error(fn, 400, "EntityTooLarge")


@pytest.fixture(scope="module")
def env(http_server, s3):
    bucket = unique_bucket_name("content")
    s3.create_bucket(Bucket=bucket)
    acme = add_tenant(http_server, "acme")
    subject = f"s-{uid()}"
    grant(http_server, subject, acme)
    yield http_server, bucket, acme, subject
    empty_bucket(s3, bucket)


@pytest.fixture(params=["root", "tenant"])
def owner(request, env, s3):
    """(client, key prefix): root on keys outside every tenant, or the tenant in its own prefix."""
    server, bucket, acme, _ = env
    if request.param == "root":
        return s3, ""
    return acme.client(), acme.prefix


# --------------------------------------------------------------------------------------------
# Declared type vs bytes


@pytest.mark.parametrize("name", sorted(NOT_IMAGES) + ["alpha.png", "static.gif", "input.webp"])
def test_bytes_that_are_not_jpeg_declared_jpeg_under_photos(env, owner, s3, name):
    _, bucket, _, _ = env
    client, prefix = owner
    key = f"{prefix}photos/{uid()}/x.jpg"
    invalid_argument(lambda: client.put_object(Bucket=bucket, Key=key, Body=body_of(name), ContentType="image/jpeg"))
    absent(s3, bucket, key)


@pytest.mark.parametrize("name", ["html", "hostile/not-an-image.jpg", "alpha.png"])
def test_known_signatures_are_checked_under_every_rule(env, s3, name):
    _, bucket, acme, _ = env
    for client, key in ((s3, f"misc-{uid()}/x.jpg"), (acme.client(), f"{acme.prefix}misc/{uid()}.jpg")):
        invalid_argument(lambda: client.put_object(Bucket=bucket, Key=key, Body=body_of(name),
                                                   ContentType="image/jpeg"))
        absent(s3, bucket, key)


def test_invalid_argument_names_content_type(env, http_server, s3):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/x.jpg"
    r = http_server.raw().request("PUT", key_path(bucket, key), body=HTML, headers={"Content-Type": "image/jpeg"})
    assert r.status == 400 and r.error.get("Code") == "InvalidArgument", r
    assert r.error.get("ArgumentName") == "Content-Type", r
    absent(s3, bucket, key)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_real_images_declared_correctly_are_accepted_under_photos(env, owner, s3, name):
    _, bucket, _, _ = env
    client, prefix = owner
    key = f"{prefix}photos/{uid()}/{name.replace('/', '-')}"
    data = corpus(name)
    client.put_object(Bucket=bucket, Key=key, Body=data, ContentType=IMAGES[name])
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ContentType"] == IMAGES[name]


def test_content_type_parameters_are_ignored(env, s3):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/params.jpg"
    s3.put_object(Bucket=bucket, Key=key, Body=corpus("gray.jpg"), ContentType="image/jpeg; foo=bar")
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == corpus("gray.jpg")
    key2 = f"photos/{uid()}/params.html"
    invalid_argument(lambda: s3.put_object(Bucket=bucket, Key=key2, Body=HTML, ContentType="text/html; charset=utf-8"))
    absent(s3, bucket, key2)


@pytest.mark.parametrize("ctype", ["text/html", "text/plain", "application/pdf", "image/svg+xml"])
def test_types_not_allowed_under_photos(env, owner, s3, ctype):
    _, bucket, _, _ = env
    client, prefix = owner
    key = f"{prefix}photos/{uid()}/x"
    invalid_argument(lambda: client.put_object(Bucket=bucket, Key=key, Body=HTML, ContentType=ctype))
    absent(s3, bucket, key)


def test_rules_match_relative_to_the_owning_tenant(env, s3):
    """`photos/**` is relative to the tenant prefix: `ACME/photos/x` is a photo, `ACME/misc/photos/x`
    and `not-a-tenant/photos/x` are not (rule `**`: any type)."""
    _, bucket, acme, _ = env
    invalid_argument(lambda: acme.client().put_object(Bucket=bucket, Key=f"{acme.prefix}photos/{uid()}.html",
                                                      Body=HTML, ContentType="text/html"))
    for client, key in ((acme.client(), f"{acme.prefix}misc/photos/{uid()}.html"),
                        (s3, f"not-a-tenant-{uid()}/photos/x.html"),
                        (s3, f"photos-{uid()}/x.html")):
        client.put_object(Bucket=bucket, Key=key, Body=HTML, ContentType="text/html")
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == HTML and got["ContentType"] == "text/html"


# --------------------------------------------------------------------------------------------
# Sniffing of missing or generic types


def _put_raw(server, bucket, key, data, ctype):
    headers = {} if ctype is None else {"Content-Type": ctype}
    return server.raw().request("PUT", key_path(bucket, key), body=data, headers=headers)


@pytest.mark.parametrize("ctype", [None, "application/octet-stream", "binary/octet-stream"])
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_generic_type_is_sniffed_and_stored(env, s3, name, ctype):
    server, bucket, _, _ = env
    key = f"photos/{uid()}/sniffed"
    data = corpus(name)
    r = _put_raw(server, bucket, key, data, ctype)
    assert r.status == 200, r
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    expected = {IMAGES[name]} | ({"image/heif"} if name.endswith(".heic") else set())
    assert got["ContentType"] in expected, f"stored {got['ContentType']!r} for {name} sent as {ctype!r}"


@pytest.mark.parametrize("ctype", [None, "application/octet-stream"])
@pytest.mark.parametrize("name", sorted(NOT_IMAGES))
def test_generic_type_of_non_image_refused_under_photos(env, s3, name, ctype):
    server, bucket, _, _ = env
    key = f"photos/{uid()}/sniffed"
    r = _put_raw(server, bucket, key, body_of(name), ctype)
    assert r.status == 400 and r.error.get("Code") == "InvalidArgument", r
    absent(s3, bucket, key)


def test_png_without_type_stored_as_png_via_boto3(env, s3):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/alpha"
    s3.put_object(Bucket=bucket, Key=key, Body=corpus("alpha.png"), ContentType="application/octet-stream")
    assert s3.head_object(Bucket=bucket, Key=key)["ContentType"] == "image/png"


def test_generic_type_of_html_is_accepted_where_any_type_is(env, s3):
    server, bucket, _, _ = env
    key = f"misc-{uid()}/page"
    r = _put_raw(server, bucket, key, HTML, "application/octet-stream")
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == HTML


# --------------------------------------------------------------------------------------------
# Refusals keep the previous object; nosniff


def test_refused_overwrite_keeps_the_previous_object(env, owner, s3):
    _, bucket, _, _ = env
    client, prefix = owner
    key = f"{prefix}photos/{uid()}/keep.jpg"
    jpeg = corpus("gray.jpg")
    client.put_object(Bucket=bucket, Key=key, Body=jpeg, ContentType="image/jpeg")
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    invalid_argument(lambda: client.put_object(Bucket=bucket, Key=key, Body=HTML, ContentType="image/jpeg"))
    invalid_argument(lambda: client.put_object(Bucket=bucket, Key=key, Body=HTML, ContentType="text/html"))
    invalid_argument(lambda: client.put_object(Bucket=bucket, Key=key, Body=b"", ContentType="image/jpeg"))
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == jpeg and got["ETag"] == etag and got["ContentType"] == "image/jpeg"


def test_objects_are_served_with_nosniff(env, http_server, s3):
    _, bucket, acme, _ = env
    for key, data, ctype in ((f"misc-{uid()}/page.html", HTML, "text/html"),
                             (f"photos/{uid()}/x.jpg", corpus("gray.jpg"), "image/jpeg"),
                             (f"{acme.prefix}misc/{uid()}", b"plain", "text/plain")):
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=ctype)
        for method in ("GET", "HEAD"):
            r = http_server.raw().request(method, key_path(bucket, key))
            assert r.status == 200, r
            assert r.header("X-Content-Type-Options") == "nosniff", f"{method} {key}: {r}"
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        r = fetch(url)
        assert r.status == 200 and r.header("X-Content-Type-Options") == "nosniff", r
        r = http_server.raw().request("GET", key_path(bucket, key), headers={"Range": "bytes=0-1"})
        assert r.status == 206 and r.header("X-Content-Type-Options") == "nosniff", r


def test_presigned_put_is_checked(env, http_server, s3):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/presigned.jpg"
    r = http_server.raw().presigned("PUT", key_path(bucket, key), 600, body=HTML,
                                    headers={"Content-Type": "image/jpeg"})
    assert r.status == 400 and r.error.get("Code") == "InvalidArgument", r
    absent(s3, bucket, key)
    r = http_server.raw().presigned("PUT", key_path(bucket, key), 600, body=corpus("alpha.png"))
    assert r.status == 200, r
    assert s3.head_object(Bucket=bucket, Key=key)["ContentType"] == "image/png"


# --------------------------------------------------------------------------------------------
# Selfies: allowed types and the 15 MB limit


@pytest.mark.parametrize("name,allowed", [("gray.jpg", True), ("alpha.png", True), ("input.webp", True),
                                          ("input.heic", True), ("static.gif", False), ("input.avif", False)])
def test_selfie_types(env, s3, name, allowed):
    _, bucket, acme, subject = env
    key = f"{acme.prefix}selfies/{subject}/{uid()}-{name}"
    put = lambda: acme.client().put_object(Bucket=bucket, Key=key, Body=corpus(name),  # noqa: E731
                                           ContentType=IMAGES[name])
    if allowed:
        put()
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == corpus(name)
    else:
        invalid_argument(put)
        absent(s3, bucket, key)


def test_selfie_size_limit_boundary(env, s3):
    _, bucket, acme, subject = env
    c = acme.client()
    ok = f"{acme.prefix}selfies/{subject}/exact-{uid()}.jpg"
    c.put_object(Bucket=bucket, Key=ok, Body=big_body(SELFIE_MAX), ContentType="image/jpeg")
    assert s3.head_object(Bucket=bucket, Key=ok)["ContentLength"] == SELFIE_MAX
    over = f"{acme.prefix}selfies/{subject}/over-{uid()}.jpg"
    too_large(lambda: c.put_object(Bucket=bucket, Key=over, Body=big_body(SELFIE_MAX + 1), ContentType="image/jpeg"))
    absent(s3, bucket, over)
    # a refused oversize overwrite keeps the object
    too_large(lambda: c.put_object(Bucket=bucket, Key=ok, Body=big_body(16_000_000), ContentType="image/jpeg"))
    assert s3.head_object(Bucket=bucket, Key=ok)["ContentLength"] == SELFIE_MAX
    c.delete_object(Bucket=bucket, Key=ok)


def test_oversize_selfie_over_https_aws_chunked(https_server, s3_tls):
    """boto3 over HTTPS streams (STREAMING-UNSIGNED-PAYLOAD-TRAILER, x-amz-decoded-content-length)."""
    bucket = unique_bucket_name("content-tls")
    s3_tls.create_bucket(Bucket=bucket)
    try:
        subject = f"tls-{uid()}"
        grant(https_server, subject)  # keys outside every tenant: consent without tenant
        key = f"selfies/{subject}/big.jpg"
        too_large(lambda: s3_tls.put_object(Bucket=bucket, Key=key, Body=big_body(16_000_000),
                                                ContentType="image/jpeg"))
        absent(s3_tls, bucket, key)
        s3_tls.put_object(Bucket=bucket, Key=key, Body=corpus("gray.jpg"), ContentType="image/jpeg")
        too_large(lambda: s3_tls.put_object(Bucket=bucket, Key=key, Body=big_body(16_000_000),
                                            ContentType="image/jpeg"))
        assert s3_tls.get_object(Bucket=bucket, Key=key)["Body"].read() == corpus("gray.jpg")
    finally:
        empty_bucket(s3_tls, bucket)


@pytest.mark.parametrize("declared", [16_000_000, 1_000_000])
def test_oversize_selfie_raw_aws_chunked(env, http_server, s3, declared):
    """aws-chunked body of 16 MB with x-amz-decoded-content-length honest (refused before reading) or
    lying (1 MB: refused while reading). Either way nothing is stored."""
    _, bucket, acme, subject = env
    key = f"{acme.prefix}selfies/{subject}/chunked-{uid()}.jpg"
    data = padded_jpeg(16_000_000)
    body = unsigned_chunked_body(split_chunks(data, 1 << 20), [("x-amz-checksum-crc32", checksum_b64("crc32", data))])
    headers = {"Content-Type": "image/jpeg", "Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(declared), "x-amz-trailer": "x-amz-checksum-crc32",
               "Content-Length": str(len(body))}
    r = expect_continue(http_server, acme.signer, "PUT", key_path(bucket, key), headers, body,
                        STREAMING_UNSIGNED_TRAILER)
    if declared > SELFIE_MAX:
        assert (r.status, r.code) == (400, "EntityTooLarge"), r
        assert not r.body_sent, f"refused only after the client sent the body: {r}"
    else:
        assert r.status is None or 400 <= r.status < 500, r
    absent(s3, bucket, key)
    assert http_server.alive()


def test_oversize_selfie_plain_put_refused_before_the_body(env, http_server, s3):
    _, bucket, acme, subject = env
    key = f"{acme.prefix}selfies/{subject}/plain-{uid()}.jpg"
    data = padded_jpeg(16_000_000)
    r = expect_continue(http_server, acme.signer, "PUT", key_path(bucket, key), {"Content-Type": "image/jpeg"},
                        data, UNSIGNED)
    assert (r.status, r.code) == (400, "EntityTooLarge"), r
    assert not r.body_sent, f"Content-Length over the maximum must be refused before any byte is read: {r}"
    absent(s3, bucket, key)


# --------------------------------------------------------------------------------------------
# Multipart and copy


def test_multipart_declared_type_checked_at_create(env, s3):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/mp.html"
    invalid_argument(lambda: s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/html"))
    ups = s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    assert ups == [], ups


@pytest.mark.parametrize("name", ["html", "hostile/not-an-image.jpg", "alpha.png"])
def test_multipart_part_one_signature_checked(env, s3, name):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/mp.jpg"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="image/jpeg")["UploadId"]
    try:
        invalid_argument(lambda: s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1,
                                                Body=body_of(name)))
        # completing without a valid part 1 cannot produce the object either
        with pytest.raises(ClientError):
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": []})
        absent(s3, bucket, key)
    finally:
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
        except ClientError:
            pass


def test_multipart_of_a_real_jpeg_works(env, s3):
    _, bucket, _, _ = env
    key = f"photos/{uid()}/mp-ok.jpg"
    data = corpus("photo-large.jpg")  # 1.5 MB; parts of 5 MiB are not needed for a last part
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="image/jpeg")["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=1, Body=data)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data and got["ContentType"] == "image/jpeg"


def test_multipart_selfie_total_over_the_limit(env, s3):
    _, bucket, acme, subject = env
    c = acme.client()
    key = f"{acme.prefix}selfies/{subject}/mp-big-{uid()}.jpg"
    up = c.create_multipart_upload(Bucket=bucket, Key=key, ContentType="image/jpeg")["UploadId"]
    data = padded_jpeg(16_000_000)
    parts, refused = [], None
    try:
        for n, chunk in enumerate(split_chunks(data, 5 * 1024 * 1024), start=1):
            try:
                etag = c.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=chunk)["ETag"]
            except ClientError as ex:
                refused = ex
                break
            parts.append({"PartNumber": n, "ETag": etag})
        if refused is None:
            with pytest.raises(ClientError) as ei:
                c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up, MultipartUpload={"Parts": parts})
            refused = ei.value
        assert (refused.response["ResponseMetadata"]["HTTPStatusCode"], refused.response["Error"]["Code"]) == \
            (400, "EntityTooLarge"), refused.response
        absent(s3, bucket, key)
    finally:
        try:
            c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
        except ClientError:
            pass


def test_copy_object_is_checked(env, s3):
    _, bucket, acme, subject = env
    html_src, jpeg_src = f"misc-{uid()}/page.html", f"misc-{uid()}/real.jpg"
    s3.put_object(Bucket=bucket, Key=html_src, Body=HTML, ContentType="text/html")
    s3.put_object(Bucket=bucket, Key=jpeg_src, Body=corpus("gray.jpg"), ContentType="image/jpeg")
    dst = f"photos/{uid()}/copied.jpg"
    invalid_argument(lambda: s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": html_src}))
    invalid_argument(lambda: s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": html_src},
                                            MetadataDirective="REPLACE", ContentType="image/jpeg"))
    absent(s3, bucket, dst)
    s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": jpeg_src})
    assert s3.get_object(Bucket=bucket, Key=dst)["ContentType"] == "image/jpeg"
    # replacing the type of a real JPEG with one it does not match
    invalid_argument(lambda: s3.copy_object(Bucket=bucket, Key=dst, CopySource={"Bucket": bucket, "Key": jpeg_src},
                                            MetadataDirective="REPLACE", ContentType="image/png"))
    assert s3.get_object(Bucket=bucket, Key=dst)["ContentType"] == "image/jpeg"
    # a copy over the selfie size limit
    big_src = f"misc-{uid()}/big.jpg"
    s3.put_object(Bucket=bucket, Key=big_src, Body=big_body(16_000_000), ContentType="image/jpeg")
    big_dst = f"{acme.prefix}selfies/{subject}/copied-{uid()}.jpg"
    too_large(lambda: s3.copy_object(Bucket=bucket, Key=big_dst, CopySource={"Bucket": bucket, "Key": big_src}))
    absent(s3, bucket, big_dst)
    s3.delete_object(Bucket=bucket, Key=big_src)
