"""Streaming, not buffering: a 1 GiB PUT and GET through presigned URLs keep the gateway's peak
resident memory (VmHWM) under 150 MB."""
import hashlib
import time

import pytest
import requests

from conftest import IS_MOTO

GiB = 1024 * 1024 * 1024
CHUNK = 1024 * 1024
HWM_LIMIT_KB = 153600  # 150 MB

pytestmark = [pytest.mark.slow, pytest.mark.mediagate_only]


class GeneratedBody:
    """An iterable of `size` deterministic bytes with a length, made a chunk at a time, hashed on
    the way out, so requests streams it with a Content-Length and nothing holds it whole."""

    def __init__(self, size: int):
        self.size = size
        self.sha = hashlib.sha256()
        self.block = hashlib.sha256(b"memory").digest() * (CHUNK // 32)

    def __len__(self):
        return self.size

    def __iter__(self):
        sent, deadline = 0, time.monotonic() + 900
        while sent < self.size:
            assert time.monotonic() < deadline
            n = min(CHUNK, self.size - sent)
            chunk = (sent.to_bytes(8, "big") + self.block[8:])[:n]
            self.sha.update(chunk)
            sent += n
            yield chunk


def vm_hwm_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_one_gib_presigned_put_and_get_in_bounded_memory(private_server):
    server = private_server("http")
    server.start()  # a process of its own, so its VmHWM is this transfer's
    client = server.client()
    client.create_bucket(Bucket="memory")
    # presigned-URL lifetimes within the default rule's limits (SPEC §4: PUT 600 s, GET 900 s)
    put_url = client.generate_presigned_url("put_object", Params={"Bucket": "memory", "Key": "one-gib.bin"},
                                            ExpiresIn=600)
    body = GeneratedBody(GiB)
    r = requests.put(put_url, data=body, timeout=(10, 600))
    assert r.status_code == 200, r.text[:500]
    expected = body.sha.hexdigest()
    assert r.headers.get("ETag", "").strip('"') and len(r.headers["ETag"].strip('"')) == 32

    get_url = client.generate_presigned_url("get_object", Params={"Bucket": "memory", "Key": "one-gib.bin"},
                                            ExpiresIn=600)
    sha, total = hashlib.sha256(), 0
    with requests.get(get_url, stream=True, timeout=(10, 600)) as r:
        assert r.status_code == 200, r.text[:500]
        assert int(r.headers["Content-Length"]) == GiB
        for chunk in r.iter_content(CHUNK):
            sha.update(chunk)
            total += len(chunk)
    assert total == GiB
    assert sha.hexdigest() == expected
    if not IS_MOTO:  # moto holds objects in memory; this bound is the gateway's
        hwm = vm_hwm_kb(server.pid)
        print(f"gateway VmHWM after 1 GiB PUT+GET: {hwm} kB")
        assert hwm < HWM_LIMIT_KB, f"gateway peak RSS {hwm} kB >= {HWM_LIMIT_KB} kB after 1 GiB PUT+GET"
