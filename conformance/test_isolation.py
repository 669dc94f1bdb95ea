"""Tenant isolation (SPEC §4, docs/policy.md "Tenants"): two tenants, every S3 operation across the
boundary, in both directions. Each attempt must be 403 AccessDenied AND change nothing: root lists
and reads every object, upload and part before and after and the two snapshots must be equal."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conftest import empty_bucket, unique_bucket_name
from s3util import key_path, uri_encode
from tenants import Tenant, add_tenant, denied, expect_error, fetch, snapshot, uid

pytestmark = pytest.mark.mediagate_only


@dataclass
class World:
    bucket: str
    spare: str  # an empty bucket, for DeleteBucket
    acme: Tenant
    bolt: Tenant
    root_uploads: dict = field(default_factory=dict)  # tenant name → upload id started by root at PREFIX/mp
    own_uploads: dict = field(default_factory=dict)   # tenant name → upload id started by the tenant at PREFIX/own-mp
    canonical: str | None = None  # how the server canonicalises a percent-encoded path: "decoded" or "as-sent"

    def pair(self, direction: str) -> tuple[Tenant, Tenant]:
        return (self.acme, self.bolt) if direction == "acme->bolt" else (self.bolt, self.acme)


def pct_first(s: str) -> str:
    """`bolt-…/` → `%62olt-…/`: the same key with its first byte percent-encoded."""
    return "%%%02X" % ord(s[0]) + s[1:]


@pytest.fixture(scope="module")
def world(http_server, s3):
    bucket, spare = unique_bucket_name("iso"), unique_bucket_name("iso-spare")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=spare)
    acme = add_tenant(http_server, "acme", via="cli")
    bolt = add_tenant(http_server, "bolt", via="api")
    w = World(bucket, spare, acme, bolt)
    try:
        s3.put_object(Bucket=bucket, Key="outside/o", Body=b"a key outside every tenant")
        for t in (acme, bolt):
            for k in ("x", "y", "dir/z"):
                s3.put_object(Bucket=bucket, Key=t.prefix + k, Body=f"{t.name}:{k}".encode())
            up = s3.create_multipart_upload(Bucket=bucket, Key=t.prefix + "mp")["UploadId"]
            s3.upload_part(Bucket=bucket, Key=t.prefix + "mp", UploadId=up, PartNumber=1, Body=b"p" * 1000)
            w.root_uploads[t.name] = up
            # the tenant's own upload in progress (also a positive control: tenants may use multipart)
            w.own_uploads[t.name] = t.client().create_multipart_upload(Bucket=bucket, Key=t.prefix + "own-mp")["UploadId"]

        # Which canonical path does the server verify for a percent-encoded request path? Probe with
        # an own key, so that the foreign attempts below fail on policy, not on the signature.
        raw = acme.raw()
        sent = key_path(bucket) + "/" + pct_first(acme.prefix) + "x"
        for mode, signed_path in (("decoded", key_path(bucket, acme.prefix + "x")), ("as-sent", sent)):
            r = raw.request("GET", signed_path, raw_target=sent)
            if r.status == 200 and r.body == f"{acme.name}:x".encode():
                w.canonical = mode
                break
        yield w
    finally:
        for t in (acme, bolt):
            for up_key, ups in ((t.prefix + "mp", w.root_uploads), (t.prefix + "own-mp", w.own_uploads)):
                if t.name in ups:
                    try:
                        s3.abort_multipart_upload(Bucket=bucket, Key=up_key, UploadId=ups[t.name])
                    except Exception:
                        pass
        empty_bucket(s3, bucket)
        empty_bucket(s3, spare)


# --------------------------------------------------------------------------------------------
# Raw helpers (percent-encoded paths, empty prefixes)


def raw_denied(r, head: bool = False):
    assert r.status == 403, f"expected 403 AccessDenied, got {r}"
    if not head:
        assert r.error.get("Code") == "AccessDenied", f"expected AccessDenied, got {r}"


def raw_encoded(w: World, a: Tenant, method: str, wire_key_path: str, plain_key: str, body: bytes = b"",
                headers: dict | None = None):
    """Sends `method` to /bucket/<wire_key_path> (percent-encoded as given), signed the way the server
    was found to canonicalise such paths."""
    if w.canonical is None:
        pytest.fail("the server accepted a percent-encoded path for the tenant's OWN key under neither "
                    "canonicalisation (decoded-and-re-encoded or as-sent); cannot tell policy from signature")
    sent = key_path(w.bucket) + "/" + wire_key_path
    signed = key_path(w.bucket, plain_key) if w.canonical == "decoded" else sent
    return a.raw().request(method, signed, raw_target=sent, body=body, headers=headers)


def raw_list(w: World, a: Tenant, query: list[tuple[str, str]]):
    return a.raw().request("GET", key_path(w.bucket), query=query)


# --------------------------------------------------------------------------------------------
# Attacks: attacker `a` against victim `v`. Each asserts the refusal; the test compares snapshots.

ATTACKS = {}


def attack(fn):
    ATTACKS[fn.__name__] = fn
    return fn


@attack
def get_object(w, a, v):
    denied(lambda: a.client().get_object(Bucket=w.bucket, Key=v.prefix + "x"))


@attack
def get_object_range(w, a, v):
    denied(lambda: a.client().get_object(Bucket=w.bucket, Key=v.prefix + "x", Range="bytes=0-3"))


@attack
def head_object(w, a, v):
    denied(lambda: a.client().head_object(Bucket=w.bucket, Key=v.prefix + "x"), head=True)


@attack
def get_object_outside_every_tenant(w, a, v):
    denied(lambda: a.client().get_object(Bucket=w.bucket, Key="outside/o"))


@attack
def get_object_prefix_without_slash(w, a, v):
    # `acme-1234x` does not start with `acme-1234/`
    denied(lambda: a.client().get_object(Bucket=w.bucket, Key=a.prefix[:-1] + "x"))


@attack
def put_object_new(w, a, v):
    denied(lambda: a.client().put_object(Bucket=w.bucket, Key=v.prefix + "new", Body=b"intruder"))


@attack
def put_object_overwrite(w, a, v):
    denied(lambda: a.client().put_object(Bucket=w.bucket, Key=v.prefix + "x", Body=b"intruder"))


@attack
def put_object_outside_every_tenant(w, a, v):
    denied(lambda: a.client().put_object(Bucket=w.bucket, Key="outside/new", Body=b"intruder"))


@attack
def put_object_prefix_without_slash(w, a, v):
    denied(lambda: a.client().put_object(Bucket=w.bucket, Key=a.prefix[:-1] + "x", Body=b"intruder"))


@attack
def delete_object(w, a, v):
    denied(lambda: a.client().delete_object(Bucket=w.bucket, Key=v.prefix + "x"))


@attack
def delete_object_missing_key(w, a, v):
    denied(lambda: a.client().delete_object(Bucket=w.bucket, Key=v.prefix + "never-existed"))


@attack
def copy_object_from_foreign(w, a, v):
    denied(lambda: a.client().copy_object(Bucket=w.bucket, Key=a.prefix + "stolen",
                                          CopySource={"Bucket": w.bucket, "Key": v.prefix + "x"}))


@attack
def copy_object_onto_foreign(w, a, v):
    denied(lambda: a.client().copy_object(Bucket=w.bucket, Key=v.prefix + "x",
                                          CopySource={"Bucket": w.bucket, "Key": a.prefix + "x"}))


@attack
def copy_object_onto_foreign_new_key(w, a, v):
    denied(lambda: a.client().copy_object(Bucket=w.bucket, Key=v.prefix + "planted",
                                          CopySource={"Bucket": w.bucket, "Key": a.prefix + "x"}))


@attack
def copy_object_foreign_to_foreign(w, a, v):
    denied(lambda: a.client().copy_object(Bucket=w.bucket, Key=v.prefix + "y",
                                          CopySource={"Bucket": w.bucket, "Key": v.prefix + "x"}))


@attack
def copy_object_percent_encoded_source(w, a, v):
    r = a.raw().request("PUT", key_path(w.bucket, a.prefix + "stolen2"),
                        headers={"x-amz-copy-source": f"/{w.bucket}/{pct_first(v.prefix)}x"})
    raw_denied(r)


@attack
def raw_get_percent_encoded_key(w, a, v):
    raw_denied(raw_encoded(w, a, "GET", pct_first(v.prefix) + "x", v.prefix + "x"))


@attack
def raw_head_percent_encoded_key(w, a, v):
    raw_denied(raw_encoded(w, a, "HEAD", pct_first(v.prefix) + "x", v.prefix + "x"), head=True)


@attack
def raw_put_percent_encoded_key(w, a, v):
    raw_denied(raw_encoded(w, a, "PUT", pct_first(v.prefix) + "x", v.prefix + "x", body=b"intruder"))


@attack
def raw_delete_percent_encoded_key(w, a, v):
    raw_denied(raw_encoded(w, a, "DELETE", pct_first(v.prefix) + "x", v.prefix + "x"))


@attack
def raw_get_encoded_slash(w, a, v):
    raw_denied(raw_encoded(w, a, "GET", uri_encode(v.prefix + "x"), v.prefix + "x"))


@attack
def raw_put_fully_encoded_key(w, a, v):
    wire = "".join("%%%02X" % b for b in (v.prefix + "y").encode())
    raw_denied(raw_encoded(w, a, "PUT", wire, v.prefix + "y", body=b"intruder"))


def _presigned(w, a, method_name, key, http_method, data=None):
    url = a.client().generate_presigned_url(method_name, Params={"Bucket": w.bucket, "Key": key}, ExpiresIn=300)
    return fetch(url, method=http_method, data=data)


@attack
def presigned_get(w, a, v):
    r = _presigned(w, a, "get_object", v.prefix + "x", "GET")
    assert (r.status, r.code) == (403, "AccessDenied"), r


@attack
def presigned_head(w, a, v):
    r = _presigned(w, a, "head_object", v.prefix + "x", "HEAD")
    assert r.status == 403, r


@attack
def presigned_put(w, a, v):
    r = _presigned(w, a, "put_object", v.prefix + "x", "PUT", data=b"intruder")
    assert (r.status, r.code) == (403, "AccessDenied"), r


@attack
def presigned_put_new(w, a, v):
    r = _presigned(w, a, "put_object", v.prefix + "presigned-new", "PUT", data=b"intruder")
    assert (r.status, r.code) == (403, "AccessDenied"), r


@attack
def presigned_delete(w, a, v):
    r = _presigned(w, a, "delete_object", v.prefix + "x", "DELETE")
    assert (r.status, r.code) == (403, "AccessDenied"), r


# listings ---------------------------------------------------------------------------------------

def _list_prefixes(a: Tenant, v: Tenant) -> dict:
    return {"empty": "", "short": a.prefix[:-1], "three-letters": a.prefix[:3], "sibling": v.prefix,
            "sibling-short": v.prefix[:3], "outside": "outside/"}


def _make_list_attacks():
    for version in ("v1", "v2"):
        for label in ("empty", "short", "three-letters", "sibling", "sibling-short", "outside"):
            def fn(w, a, v, version=version, label=label):
                q = [("prefix", _list_prefixes(a, v)[label])]
                if version == "v2":
                    q.append(("list-type", "2"))
                raw_denied(raw_list(w, a, q))
            fn.__name__ = f"list_objects_{version}_prefix_{label}"
            attack(fn)

        def no_prefix(w, a, v, version=version):
            raw_denied(raw_list(w, a, [("list-type", "2")] if version == "v2" else []))
        no_prefix.__name__ = f"list_objects_{version}_no_prefix"
        attack(no_prefix)

        def delimiter(w, a, v, version=version):
            q = [("delimiter", "/"), ("prefix", "")] + ([("list-type", "2")] if version == "v2" else [])
            raw_denied(raw_list(w, a, q))
        delimiter.__name__ = f"list_objects_{version}_empty_prefix_with_delimiter"
        attack(delimiter)


_make_list_attacks()


@attack
def list_objects_v2_boto3_sibling_prefix(w, a, v):
    denied(lambda: a.client().list_objects_v2(Bucket=w.bucket, Prefix=v.prefix))


# multipart ----------------------------------------------------------------------------------------

@attack
def create_multipart_upload_foreign(w, a, v):
    denied(lambda: a.client().create_multipart_upload(Bucket=w.bucket, Key=v.prefix + "new-mp"))


@attack
def upload_part_into_foreign_upload(w, a, v):
    denied(lambda: a.client().upload_part(Bucket=w.bucket, Key=v.prefix + "mp", UploadId=w.root_uploads[v.name],
                                          PartNumber=2, Body=b"intruder"))


@attack
def upload_part_overwrite_foreign_part(w, a, v):
    denied(lambda: a.client().upload_part(Bucket=w.bucket, Key=v.prefix + "mp", UploadId=w.root_uploads[v.name],
                                          PartNumber=1, Body=b"intruder"))


@attack
def upload_part_foreign_upload_id_under_own_key(w, a, v):
    # the upload id belongs to the victim's key: refused (403) or unknown for this key (404)
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as ei:
        a.client().upload_part(Bucket=w.bucket, Key=a.prefix + "mp", UploadId=w.root_uploads[v.name],
                               PartNumber=2, Body=b"intruder")
    got = (ei.value.response["ResponseMetadata"]["HTTPStatusCode"], ei.value.response["Error"].get("Code"))
    assert got in ((403, "AccessDenied"), (404, "NoSuchUpload")), got


@attack
def upload_part_copy_from_foreign(w, a, v):
    denied(lambda: a.client().upload_part_copy(Bucket=w.bucket, Key=a.prefix + "own-mp",
                                               UploadId=w.own_uploads[a.name], PartNumber=1,
                                               CopySource={"Bucket": w.bucket, "Key": v.prefix + "x"}))


@attack
def upload_part_copy_range_from_foreign(w, a, v):
    denied(lambda: a.client().upload_part_copy(Bucket=w.bucket, Key=a.prefix + "own-mp",
                                               UploadId=w.own_uploads[a.name], PartNumber=2,
                                               CopySource={"Bucket": w.bucket, "Key": v.prefix + "x"},
                                               CopySourceRange="bytes=0-3"))


@attack
def upload_part_copy_into_foreign_upload(w, a, v):
    denied(lambda: a.client().upload_part_copy(Bucket=w.bucket, Key=v.prefix + "mp",
                                               UploadId=w.root_uploads[v.name], PartNumber=3,
                                               CopySource={"Bucket": w.bucket, "Key": a.prefix + "x"}))


@attack
def complete_foreign_upload(w, a, v):
    up = w.root_uploads[v.name]
    etag = '"%s"' % __import__("hashlib").md5(b"p" * 1000).hexdigest()
    denied(lambda: a.client().complete_multipart_upload(
        Bucket=w.bucket, Key=v.prefix + "mp", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}))


@attack
def abort_foreign_upload(w, a, v):
    denied(lambda: a.client().abort_multipart_upload(Bucket=w.bucket, Key=v.prefix + "mp",
                                                     UploadId=w.root_uploads[v.name]))


@attack
def list_parts_of_foreign_upload(w, a, v):
    denied(lambda: a.client().list_parts(Bucket=w.bucket, Key=v.prefix + "mp", UploadId=w.root_uploads[v.name]))


def _make_mpu_list_attacks():
    # boto3 sends a bare `?uploads&prefix=...`
    for label in ("empty", "short", "three-letters", "sibling", "outside"):
        def fn(w, a, v, label=label):
            denied(lambda: a.client().list_multipart_uploads(Bucket=w.bucket, Prefix=_list_prefixes(a, v)[label]))
        fn.__name__ = f"list_multipart_uploads_prefix_{label}"
        attack(fn)

    def no_prefix(w, a, v):
        denied(lambda: a.client().list_multipart_uploads(Bucket=w.bucket))
    no_prefix.__name__ = "list_multipart_uploads_no_prefix"
    attack(no_prefix)


_make_mpu_list_attacks()


# buckets ------------------------------------------------------------------------------------------

@attack
def create_bucket(w, a, v):
    denied(lambda: a.client().create_bucket(Bucket=unique_bucket_name("tenant-made")))


@attack
def delete_empty_bucket(w, a, v):
    denied(lambda: a.client().delete_bucket(Bucket=w.spare))


@attack
def delete_non_empty_bucket(w, a, v):
    denied(lambda: a.client().delete_bucket(Bucket=w.bucket))


# --------------------------------------------------------------------------------------------
# The tests


@pytest.mark.parametrize("direction", ["acme->bolt", "bolt->acme"])
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_cross_tenant_denied_and_nothing_changes(world, s3, name, direction):
    a, v = world.pair(direction)
    before = snapshot(s3, [world.bucket, world.spare])
    ATTACKS[name](world, a, v)
    after = snapshot(s3, [world.bucket, world.spare])
    assert after == before, f"{name} ({direction}) changed state visible to root"


def test_own_space_works(world, s3):
    """Positive control: a tenant's key does work inside its prefix (else every 403 above is hollow)."""
    for t in (world.acme, world.bolt):
        c, b, p = t.client(), world.bucket, t.prefix
        assert c.get_object(Bucket=b, Key=p + "x")["Body"].read() == f"{t.name}:x".encode()
        assert c.head_object(Bucket=b, Key=p + "y")["ContentLength"] == len(f"{t.name}:y")
        c.put_object(Bucket=b, Key=p + "pos/new", Body=b"mine")
        c.copy_object(Bucket=b, Key=p + "pos/copy", CopySource={"Bucket": b, "Key": p + "pos/new"})
        keys = [o["Key"] for o in c.list_objects_v2(Bucket=b, Prefix=p).get("Contents", [])]
        assert {p + "x", p + "y", p + "dir/z", p + "pos/new", p + "pos/copy"} <= set(keys)
        assert all(k.startswith(p) for k in keys)
        v1 = [o["Key"] for o in c.list_objects(Bucket=b, Prefix=p + "pos/").get("Contents", [])]
        assert v1 == [p + "pos/copy", p + "pos/new"]
        ups = c.list_multipart_uploads(Bucket=b, Prefix=p).get("Uploads", [])
        assert {u["Key"] for u in ups} == {p + "mp", p + "own-mp"}
        url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": p + "pos/copy"}, ExpiresIn=300)
        r = fetch(url)
        assert (r.status, r.body) == (200, b"mine"), r
        res = c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": p + "pos/new"}, {"Key": p + "pos/copy"}]})
        assert not res.get("Errors"), res
        assert s3.list_objects_v2(Bucket=b, Prefix=p + "pos/").get("KeyCount") == 0
    if world.canonical is None:
        pytest.fail("a percent-encoded path to the tenant's own key was refused under every canonicalisation")


@pytest.mark.parametrize("direction", ["acme->bolt", "bolt->acme"])
def test_delete_objects_mixing_own_and_foreign_keys(world, s3, direction):
    a, v = world.pair(direction)
    own = [a.prefix + f"del-{uid()}", a.prefix + f"del-{uid()}"]
    for k in own:
        s3.put_object(Bucket=world.bucket, Key=k, Body=b"to be deleted")
    before = snapshot(s3, [world.bucket])
    foreign = [v.prefix + "x", v.prefix + "y", "outside/o", v.prefix + "never-existed"]
    res = a.client().delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": k} for k in
                                                                             [own[0]] + foreign + [own[1]]]})
    deleted = sorted(d["Key"] for d in res.get("Deleted", []))
    errors = {e["Key"]: e.get("Code") for e in res.get("Errors", [])}
    assert deleted == sorted(own), res
    assert errors == {k: "AccessDenied" for k in foreign}, res
    after = snapshot(s3, [world.bucket])
    expected = before
    for k in own:
        del expected[world.bucket]["objects"][k]
    assert after == expected


@pytest.mark.seaweedfs_deviation(reason="`..` segments are refused (keys are paths in a directory tree)")
def test_dotdot_key_is_a_literal_key_in_own_space(world, s3):
    acme, bolt, b = world.acme, world.bolt, world.bucket
    tricky = acme.prefix + "../" + bolt.prefix + "x"
    before_bolt = s3.get_object(Bucket=b, Key=bolt.prefix + "x")["Body"].read()
    acme.client().put_object(Bucket=b, Key=tricky, Body=b"literal key, not a path")
    # the same through a raw request, exactly as sent (no client-side dot-segment removal)
    tricky2 = acme.prefix + "../" + bolt.prefix + "y"
    path = key_path(b, tricky2)
    assert "/../" in path
    r = acme.raw().request("PUT", path, body=b"raw literal key")
    assert r.status == 200, r
    assert s3.get_object(Bucket=b, Key=tricky)["Body"].read() == b"literal key, not a path"
    assert s3.get_object(Bucket=b, Key=tricky2)["Body"].read() == b"raw literal key"
    assert acme.client().get_object(Bucket=b, Key=tricky)["Body"].read() == b"literal key, not a path"
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix=acme.prefix + "../").get("Contents", [])]
    assert listed == [tricky, tricky2]
    assert s3.get_object(Bucket=b, Key=bolt.prefix + "x")["Body"].read() == before_bolt == f"{bolt.name}:x".encode()
    assert s3.get_object(Bucket=b, Key=bolt.prefix + "y")["Body"].read() == f"{bolt.name}:y".encode()
    # bolt cannot reach it: the key starts with acme's prefix
    denied(lambda: bolt.client().get_object(Bucket=b, Key=tricky))
    # the reverse trick from bolt names a (missing) key in bolt's own space, not acme's x
    expect_error(lambda: bolt.client().get_object(Bucket=b, Key=bolt.prefix + "../" + acme.prefix + "x"),
                 404, "NoSuchKey")
    for k in (tricky, tricky2):
        acme.client().delete_object(Bucket=b, Key=k)


def test_list_buckets_shows_only_the_tenants_buckets(http_server, s3, make_bucket):
    b1, b2, b3 = make_bucket(s3, "iso-lb"), make_bucket(s3, "iso-lb"), make_bucket(s3, "iso-lb")
    only_b1 = add_tenant(http_server, "lb", buckets=[b1], via="cli")
    two = add_tenant(http_server, "lb", buckets=[b2, b3], via="api")
    everything = add_tenant(http_server, "lb", via="cli")
    assert only_b1.buckets == [b1] and sorted(two.buckets) == sorted([b2, b3])

    names = lambda t: sorted(x["Name"] for x in t.client().list_buckets()["Buckets"])  # noqa: E731
    assert names(only_b1) == [b1]
    assert names(two) == sorted([b2, b3])
    assert {b1, b2, b3} <= set(names(everything))

    before = snapshot(s3, [b1, b2, b3])
    c = only_b1.client()
    denied(lambda: c.put_object(Bucket=b2, Key=only_b1.prefix + "x", Body=b"wrong bucket"))
    denied(lambda: c.list_objects_v2(Bucket=b2, Prefix=only_b1.prefix))
    denied(lambda: c.head_bucket(Bucket=b3), head=True)
    denied(lambda: c.copy_object(Bucket=b2, Key=only_b1.prefix + "c", CopySource={"Bucket": b1, "Key": "nope"}))
    assert snapshot(s3, [b1, b2, b3]) == before
    c.put_object(Bucket=b1, Key=only_b1.prefix + "x", Body=b"right bucket")
    assert s3.get_object(Bucket=b1, Key=only_b1.prefix + "x")["Body"].read() == b"right bucket"
    # copying from a bucket outside the tenant's list into its own bucket is refused too
    s3.put_object(Bucket=b2, Key=only_b1.prefix + "bait", Body=b"bait")
    denied(lambda: c.copy_object(Bucket=b1, Key=only_b1.prefix + "c",
                                 CopySource={"Bucket": b2, "Key": only_b1.prefix + "bait"}))
    expect_error(lambda: s3.head_object(Bucket=b1, Key=only_b1.prefix + "c"), 404, head=True)
