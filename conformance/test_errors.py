"""S3 error documents, request ids, and the unauthenticated control endpoints."""
import urllib.request

import pytest

from s3util import key_path


@pytest.mark.mediagate_only
@pytest.mark.parametrize("case", ["no-such-key", "no-such-bucket", "bucket-not-empty", "invalid-range"])
def test_error_xml_has_code_message_request_id(raw, s3, bucket, case):
    if case == "no-such-key":
        resp, code, status = raw.request("GET", key_path(bucket, "nope \u00e9")), "NoSuchKey", 404
    elif case == "no-such-bucket":
        resp, code, status = raw.request("GET", "/cf-absent-bucket-xyz"), "NoSuchBucket", 404
    elif case == "bucket-not-empty":
        s3.put_object(Bucket=bucket, Key="x", Body=b"x")
        resp, code, status = raw.request("DELETE", "/" + bucket), "BucketNotEmpty", 409
    else:
        s3.put_object(Bucket=bucket, Key="x", Body=b"x")
        resp = raw.request("GET", key_path(bucket, "x"), headers={"Range": "bytes=10-"})
        code, status = "InvalidRange", 416
    assert resp.status == status, resp
    assert resp.header("Content-Type", "").startswith("application/xml"), resp
    err = resp.error
    assert err.get("Code") == code, resp
    assert err.get("Message"), resp
    assert err.get("RequestId"), resp
    assert resp.header("x-amz-request-id") == err["RequestId"], resp


@pytest.mark.mediagate_only
def test_request_ids_are_unique(raw):
    ids = {raw.request("GET", "/").header("x-amz-request-id") for _ in range(20)}
    assert None not in ids and len(ids) == 20


@pytest.mark.mediagate_only
def test_head_error_has_no_body_but_request_id(raw, bucket):
    resp = raw.request("HEAD", key_path(bucket, "missing"))
    assert resp.status == 404
    assert resp.body == b""
    assert resp.header("x-amz-request-id")


@pytest.mark.mediagate_only
def test_control_endpoints_need_no_auth(http_server):
    for path in ("/_mediagate/health", "/_mediagate/ready"):
        with urllib.request.urlopen(http_server.endpoint + path, timeout=10) as r:
            assert r.status == 200
    with urllib.request.urlopen(http_server.endpoint + "/_mediagate/metrics", timeout=10) as r:
        text = r.read().decode()
        assert r.status == 200
    assert "mediagate_requests_total" in text


@pytest.mark.xfail_moto(reason="moto answers 500 to PATCH")
def test_method_not_allowed_or_not_implemented(raw, bucket):
    resp = raw.request("PATCH", key_path(bucket, "k"), body=b"x")
    assert resp.status in (400, 405, 501), resp
