"""Crash safety: kill -9 in the middle of an upload and right after a 200, then restart on the
same data dir (SPEC §3 Durability, §7 Disk)."""
import hashlib
import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import dir_size
from s3util import UNSIGNED, key_path, open_socket

MiB = 1024 * 1024
BIG = 300 * MiB
KILL_AFTER = 64 * MiB
SEND_CHUNK = MiB

pytestmark = [pytest.mark.slow, pytest.mark.mediagate_only]


def slow_body(total, chunk=SEND_CHUNK, pause=0.002):
    """Deterministic bytes, produced a chunk at a time (never held whole), slowly."""
    block = hashlib.sha256(b"seed").digest() * (chunk // 32)
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield (sent.to_bytes(8, "big") + block[8:])[:n]
        sent += n
        time.sleep(pause)


def interrupted_put(server, bucket, key, total=BIG, kill_after=KILL_AFTER, query=None):
    """Streams a PUT of `total` bytes and kill -9s the server after `kill_after` bytes were sent.

    Returns the number of bytes the socket accepted before the server died."""
    path = key_path(bucket, key)
    raw = server.raw()
    headers = {"host": raw.host, "Content-Length": str(total)}
    q = list(query or [])
    raw.signer.sign_headers("PUT", path, q, headers, UNSIGNED)
    from s3util import wire_query

    target = path + ("?" + wire_query(q) if q else "")
    sock = open_socket("127.0.0.1", server.port, server.tls, str(server.cert) if server.cert else None)
    sent = 0
    deadline = time.monotonic() + 300
    try:
        head = f"PUT {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode())
        for chunk in slow_body(total):
            assert time.monotonic() < deadline, "upload loop ran too long"
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
            if sent >= kill_after and server.alive():
                time.sleep(0.5)  # let the gateway write what it has received
                server.kill9()
            if not server.alive() and sent >= kill_after + 16 * MiB:
                break
    finally:
        sock.close()
    assert sent >= kill_after
    assert sent < total, "the whole body went through before the kill; the test proves nothing"
    return sent


@pytest.fixture
def crashable(private_server):
    server = private_server("http")
    server.start()
    client = server.client()
    bucket = "durable"
    client.create_bucket(Bucket=bucket)
    return server, bucket


def assert_only(client, bucket, expected: dict):
    """The bucket holds exactly `expected` (key → bytes), content and listing alike."""
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert sorted((o["Key"], o["Size"]) for o in listing) == sorted((k, len(v)) for k, v in expected.items())
    for key, data in expected.items():
        got = client.get_object(Bucket=bucket, Key=key)
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == hashlib.sha256(data).hexdigest(), key
        assert got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()


def test_kill_during_overwrite_keeps_previous_version(crashable):
    server, bucket = crashable
    client = server.client()
    v1 = os.urandom(8 * MiB + 11)
    client.put_object(Bucket=bucket, Key="victim", Body=v1)
    baseline = dir_size(server.data_dir)
    for attempt in range(2):
        interrupted_put(server, bucket, "victim")
        server.restart()
        client = server.client()
        assert_only(client, bucket, {"victim": v1})
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Leftovers of interrupted uploads must not pile up across crashes.
    growth = dir_size(server.data_dir) - baseline
    assert growth < KILL_AFTER + 16 * MiB, f"data dir grew by {growth / MiB:.0f} MiB after two crashes"
    # the gateway still works normally on the same key
    v2 = os.urandom(MiB)
    client.put_object(Bucket=bucket, Key="victim", Body=v2)
    assert_only(client, bucket, {"victim": v2})


def test_kill_during_first_upload_leaves_nothing(crashable):
    server, bucket = crashable
    interrupted_put(server, bucket, "new/key", total=200 * MiB, kill_after=32 * MiB)
    server.restart()
    client = server.client()
    assert_only(client, bucket, {})
    with pytest.raises(ClientError) as ei:
        client.head_object(Bucket=bucket, Key="new/key")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_kill_right_after_put_200(crashable):
    server, bucket = crashable
    client = server.client()
    objects = {f"acked/{i:02d}": os.urandom(1000 + i * 4099) for i in range(12)}
    for k, v in objects.items():
        assert client.put_object(Bucket=bucket, Key=k, Body=v)["ResponseMetadata"]["HTTPStatusCode"] == 200
    server.kill9()  # immediately after the last 200
    server.restart()
    assert_only(server.client(), bucket, objects)


def test_kill_right_after_overwrite_delete_copy_and_complete(crashable):
    server, bucket = crashable
    client = server.client()
    client.put_object(Bucket=bucket, Key="over", Body=b"old")
    client.put_object(Bucket=bucket, Key="gone", Body=b"doomed")
    client.put_object(Bucket=bucket, Key="over", Body=b"new")
    client.delete_object(Bucket=bucket, Key="gone")
    client.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "over"})
    parts = [os.urandom(5 * MiB), b"tail"]
    uid = client.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = [{"PartNumber": n, "ETag": client.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n,
                                                         Body=p)["ETag"]} for n, p in enumerate(parts, 1)]
    client.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": done})
    server.kill9()
    server.restart()
    client = server.client()
    listing = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert listing == ["copied", "mp", "over"]
    assert client.get_object(Bucket=bucket, Key="over")["Body"].read() == b"new"
    assert client.get_object(Bucket=bucket, Key="copied")["Body"].read() == b"new"
    got = client.get_object(Bucket=bucket, Key="mp")["Body"].read()
    assert got == b"".join(parts)


def test_kill_during_upload_part_keeps_upload_and_finished_parts(crashable):
    server, bucket = crashable
    client = server.client()
    uid = client.create_multipart_upload(Bucket=bucket, Key="mpk")["UploadId"]
    p1 = os.urandom(5 * MiB)
    e1 = client.upload_part(Bucket=bucket, Key="mpk", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    interrupted_put(server, bucket, "mpk", total=100 * MiB, kill_after=24 * MiB,
                    query=[("partNumber", "2"), ("uploadId", uid)])
    server.restart()
    client = server.client()
    parts = client.list_parts(Bucket=bucket, Key="mpk", UploadId=uid).get("Parts", [])
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e1, len(p1))]
    p2 = os.urandom(1000)
    e2 = client.upload_part(Bucket=bucket, Key="mpk", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    client.complete_multipart_upload(Bucket=bucket, Key="mpk", UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                                                {"PartNumber": 2, "ETag": e2}]})
    assert client.get_object(Bucket=bucket, Key="mpk")["Body"].read() == p1 + p2
