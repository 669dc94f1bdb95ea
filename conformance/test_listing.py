"""ListObjects v1 and v2: order, prefix, delimiter, pagination, start-after, fetch-owner, encoding."""
import urllib.parse

import pytest

from conftest import xfail_if_moto
from keys import ORDER_KEYS, utf8_sorted
from s3util import key_path, xml_text

# Under CONFORMANCE_STORAGE=s3 listings come from SeaweedFS, which lists in directory-tree order, not
# UTF-8 byte order, skips whole directories on start-after, and cannot hold both `a` and `a/`.
pytestmark = pytest.mark.seaweedfs_deviation(reason="listing order, start-after and `a` vs `a/` keys")

MAX_PAGES = 200


@pytest.fixture(scope="module")
def listing_bucket(http_server):
    """One bucket filled once with ORDER_KEYS plus a small tree (read-only for the tests here)."""
    from conftest import empty_bucket, unique_bucket_name

    c = http_server.client()
    name = unique_bucket_name("list")
    c.create_bucket(Bucket=name)
    keys = ORDER_KEYS + ["dir/x", "dir/sub/y", "dir/sub/z", "dir/sub2/w", "dir2/q", "other/\u00e9/1"]
    for k in keys:
        c.put_object(Bucket=name, Key=k, Body=k.encode())
    yield name, utf8_sorted(keys)
    empty_bucket(c, name)


def list_all_v2(client, bucket, page_size, **kw):
    keys, prefixes, pages, token = [], [], 0, None
    while True:
        args = dict(Bucket=bucket, MaxKeys=page_size, **kw)
        if token:
            args["ContinuationToken"] = token
        resp = client.list_objects_v2(**args)
        page_keys = [o["Key"] for o in resp.get("Contents", [])]
        page_prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert len(page_keys) + len(page_prefixes) <= page_size
        assert resp["KeyCount"] == len(page_keys) + len(page_prefixes)
        assert resp["MaxKeys"] == page_size
        keys += page_keys
        prefixes += page_prefixes
        pages += 1
        assert pages < MAX_PAGES
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            return keys, prefixes, pages
        assert len(page_keys) + len(page_prefixes) == page_size
        token = resp["NextContinuationToken"]
        assert token


def list_all_v1(client, bucket, page_size, **kw):
    keys, prefixes, pages, marker = [], [], 0, None
    while True:
        args = dict(Bucket=bucket, MaxKeys=page_size, **kw)
        if marker is not None:
            args["Marker"] = marker
        resp = client.list_objects(**args)
        page_keys = [o["Key"] for o in resp.get("Contents", [])]
        page_prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
        assert len(page_keys) + len(page_prefixes) <= page_size
        keys += page_keys
        prefixes += page_prefixes
        pages += 1
        assert pages < MAX_PAGES
        if not resp["IsTruncated"]:
            return keys, prefixes, pages
        if "Delimiter" in kw:
            marker = resp["NextMarker"]  # returned only when a delimiter is given
        else:
            marker = resp.get("NextMarker") or page_keys[-1]
        assert marker


def test_utf8_byte_order(s3, listing_bucket):
    bucket, expected = listing_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == expected
    v1 = [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]]
    assert v1 == expected


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 1000])
def test_v2_pagination(s3, listing_bucket, page_size):
    bucket, expected = listing_bucket
    keys, prefixes, pages = list_all_v2(s3, bucket, page_size)
    assert keys == expected and prefixes == []
    assert pages == -(-len(expected) // page_size)


@pytest.mark.parametrize("page_size", [1, 4, 1000])
def test_v1_pagination(s3, listing_bucket, page_size):
    bucket, expected = listing_bucket
    keys, prefixes, _ = list_all_v1(s3, bucket, page_size)
    assert keys == expected and prefixes == []


@pytest.mark.parametrize("page_size", [1, 2, 1000])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_delimiter_and_common_prefixes(s3, listing_bucket, page_size, version):
    bucket, expected = listing_bucket
    if version == "v1" and page_size < 1000:
        xfail_if_moto("v1 listing ignores max-keys for common prefixes")
    lister = list_all_v2 if version == "v2" else list_all_v1
    keys, prefixes, _ = lister(s3, bucket, page_size, Delimiter="/")
    assert keys == [k for k in expected if "/" not in k]
    assert prefixes == ["a/", "dir/", "dir2/", "other/"]
    keys, prefixes, _ = lister(s3, bucket, page_size, Prefix="dir/", Delimiter="/")
    assert keys == ["dir/x"]
    assert prefixes == ["dir/sub/", "dir/sub2/"]
    keys, prefixes, _ = lister(s3, bucket, page_size, Prefix="a/", Delimiter="/")
    assert keys == ["a/", "a/b"]
    assert prefixes == ["a/c/"]


def test_delimiter_other_than_slash(s3, listing_bucket):
    bucket, expected = listing_bucket
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir", Delimiter="sub")
    assert [p["Prefix"] for p in resp.get("CommonPrefixes", [])] == ["dir/sub"]
    assert [o["Key"] for o in resp.get("Contents", [])] == ["dir/x", "dir2/q"]


def test_prefix_only(s3, listing_bucket):
    bucket, expected = listing_bucket
    for prefix in ("a", "dir/sub", "\u00e9", "e", "zzz", "other/\u00e9/"):
        resp = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        assert [o["Key"] for o in resp.get("Contents", [])] == [k for k in expected if k.startswith(prefix)]
        assert resp["Prefix"] == prefix


@pytest.mark.parametrize("start_after", ["a/b", "a/b0", "Z", "\u00e9", "\uffff", "", "dir/sub/"])
def test_v2_start_after(s3, listing_bucket, start_after):
    bucket, expected = listing_bucket
    if start_after == "\uffff":
        xfail_if_moto("500 on start-after U+FFFF")
    keys, _, _ = list_all_v2(s3, bucket, 3, StartAfter=start_after)
    sa = start_after.encode()
    assert keys == [k for k in expected if k.encode() > sa]


@pytest.mark.xfail_moto(reason="moto omits <Marker> in v1 listings")
@pytest.mark.parametrize("marker", ["a/b", "dir/", "\U0001F600"])
def test_v1_marker(s3, listing_bucket, marker):
    bucket, expected = listing_bucket
    resp = s3.list_objects(Bucket=bucket, Marker=marker)
    assert [o["Key"] for o in resp.get("Contents", [])] == [k for k in expected if k.encode() > marker.encode()]
    assert resp["Marker"] == marker


def test_fetch_owner(s3, listing_bucket):
    bucket, _ = listing_bucket
    without = s3.list_objects_v2(Bucket=bucket, MaxKeys=3)
    assert all("Owner" not in o for o in without["Contents"])
    with_owner = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, FetchOwner=True)
    assert all(o.get("Owner", {}).get("ID") for o in with_owner["Contents"])
    v1 = s3.list_objects(Bucket=bucket, MaxKeys=3)
    assert all(o.get("Owner", {}).get("ID") for o in v1["Contents"])


def test_listing_fields(s3, listing_bucket):
    bucket, _ = listing_bucket
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="dir/x")
    (obj,) = resp["Contents"]
    assert obj["Size"] == len(b"dir/x")
    assert obj["ETag"].startswith('"') and len(obj["ETag"]) == 34
    assert obj["StorageClass"] == "STANDARD"
    assert obj["LastModified"] is not None
    assert resp["Name"] == bucket


def test_max_keys_zero(s3, listing_bucket):
    bucket, _ = listing_bucket
    resp = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert resp.get("Contents", []) == [] and resp["KeyCount"] == 0


def test_encoding_type_url_raw(raw, s3, bucket):
    """encoding-type=url: every key, prefix and marker in the XML is URL-encoded, so keys with
    characters XML 1.0 cannot carry (here U+0001) can be listed."""
    keys = ["ctl\x01char", "space key", "plus+key", "\u65e5\u672c/x", "amp&lt"]
    for k in keys:
        resp = raw.request("PUT", key_path(bucket, k), body=b"x")
        assert resp.status == 200, resp
    for query in ([("list-type", "2"), ("encoding-type", "url")], [("encoding-type", "url")]):
        resp = raw.request("GET", "/" + bucket, query=query)
        assert resp.status == 200, resp
        assert b"\x01" not in resp.body
        assert xml_text(resp.body, "EncodingType") == ["url"]
        listed = [urllib.parse.unquote_plus(k) for k in xml_text(resp.body, "Contents/Key")]
        assert listed == utf8_sorted(keys)
    # Delimiter, prefix and start-after echoes are encoded too
    resp = raw.request("GET", "/" + bucket, query=[("list-type", "2"), ("encoding-type", "url"),
                                                   ("prefix", "\u65e5"), ("delimiter", "/"),
                                                   ("start-after", "\u65e5 ")])
    assert resp.status == 200, resp
    assert [urllib.parse.unquote_plus(p) for p in xml_text(resp.body, "CommonPrefixes/Prefix")] == ["\u65e5\u672c/"]
    assert [urllib.parse.unquote_plus(p) for p in xml_text(resp.body, "Prefix")] == ["\u65e5"]
    assert [urllib.parse.unquote_plus(p) for p in xml_text(resp.body, "StartAfter")] == ["\u65e5 "]
    # boto3 decodes encoding-type=url by itself: it must see the original keys
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == utf8_sorted(keys)


@pytest.mark.xfail_moto(reason="moto accepts max-keys=-1")
def test_invalid_max_keys(raw, bucket):
    resp = raw.request("GET", "/" + bucket, query=[("list-type", "2"), ("max-keys", "-1")])
    assert resp.status == 400, resp
    assert resp.error.get("Code") == "InvalidArgument", resp


@pytest.mark.xfail_moto(reason="moto accepts a garbage continuation token")
def test_invalid_continuation_token(raw, bucket):
    resp = raw.request("GET", "/" + bucket, query=[("list-type", "2"), ("continuation-token", "not-a-token!!")])
    assert resp.status == 400, resp
    assert resp.error.get("Code") == "InvalidArgument", resp
