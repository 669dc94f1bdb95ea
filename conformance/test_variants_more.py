"""More variant checks (SPEC §6, docs/variants.md), reusing test_variants.py's helpers:

- the watermark text comes from the config (`watermark: { text }`), else `© <tenant name>`: a longer
  text covers more pixels of the lower-right corner;
- thumb-400.png of every normal corpus file has the same 64-bit average hash (±6 bits) as
  `vipsthumbnail` run here on the original (orientation, crop and colour checked against a tool
  that is not mediagate's own pipeline);
- deriving thumb-400.jpg and watermarked.jpg of the whole corpus (hostile files included) keeps the
  server's peak resident memory (VmHWM) under 400 MB;
- `variants.prewarm` derives the listed variants after a source write, without any read;
- invalid `presets` / `variants` entries in the config file stop `mediagate serve` with a message."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_port, mediagate_binary
from tenants import CORPUS, add_tenant, corpus, expect_error, uid
from test_variants import (HOSTILE, NORMAL, derivations, get_variant, jpeg_size, keys_under,
                           png_size, put_source, sources, vb, webp_size)  # noqa: F401  (fixtures)

pytestmark = pytest.mark.mediagate_only

HWM_LIMIT_KB = 400 * 1024  # 400 MB
PREWARM_SECONDS = 10.0
HASH_MAX_DISTANCE = 6


# --------------------------------------------------------------------------------------------
# Helpers


def vm_hwm_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def config_server(pool, name: str, text: str):
    """A private server started with `--config` holding `text` (as test_policy_config.py does)."""
    server = pool.private(name)
    config = server.base / "mediagate.yaml"
    config.write_text(text)
    base_command = server.command
    server.command = lambda: base_command() + ["--config", str(config)]
    server.start()
    return server


def drop(server):
    server.stop()
    shutil.rmtree(server.sandbox, ignore_errors=True)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"the {name} command is needed")
    return path


def decode(path: Path):
    """Pixels of an image file as float (h, w, bands) on a 0..255 scale, 8- or 16-bit, via `vips rawsave`."""
    import numpy as np

    vips, vipsheader = _tool("vips"), _tool("vipsheader")
    fields = {}
    for f in ("width", "height", "bands", "format"):
        fields[f] = subprocess.run([vipsheader, "-f", f, str(path)], check=True, capture_output=True, text=True,
                                   timeout=60).stdout.strip()
    w, h, bands = int(fields["width"]), int(fields["height"]), int(fields["bands"])
    kind = fields["format"].upper()
    with tempfile.TemporaryDirectory(prefix="variant-dec-") as d:
        raw = Path(d) / "out.raw"
        subprocess.run([vips, "rawsave", str(path), str(raw)], check=True, capture_output=True, timeout=60)
        if "USHORT" in kind:
            a = np.fromfile(raw, dtype=np.uint16).astype(float) / 257.0
        elif "UCHAR" in kind:
            a = np.fromfile(raw, dtype=np.uint8).astype(float)
        else:
            raise AssertionError(f"{path.name}: unexpected pixel format {kind}")
    assert a.size == w * h * bands, f"{path.name}: raw size {a.size} != {w}x{h}x{bands}"
    return a.reshape(h, w, bands)


def decode_bytes(data: bytes, fmt: str):
    with tempfile.TemporaryDirectory(prefix="variant-decb-") as d:
        p = Path(d) / f"in.{fmt}"
        p.write_bytes(data)
        return decode(p)


def grey_on_white(px):
    """Luma (BT.601) of the pixels, alpha flattened onto white."""
    import numpy as np

    bands = px.shape[2]
    colour = px[..., :3] if bands >= 3 else np.repeat(px[..., :1], 3, axis=2)
    if bands in (2, 4):
        alpha = px[..., -1:] / 255.0
        colour = colour * alpha + 255.0 * (1 - alpha)
    return colour[..., 0] * 0.299 + colour[..., 1] * 0.587 + colour[..., 2] * 0.114


def average_hash(px) -> int:
    """64-bit average hash: 8x8 block means of the grey image, one bit per block above the mean."""
    import numpy as np

    grey = grey_on_white(px)
    h, w = grey.shape
    ys, xs = np.linspace(0, h, 9).round().astype(int), np.linspace(0, w, 9).round().astype(int)
    cells = np.array([[grey[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].mean() for j in range(8)] for i in range(8)])
    bits = (cells > cells.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hash_grid(value: int) -> str:
    s = f"{value:064b}"
    return "/".join(s[i:i + 8] for i in range(0, 64, 8))


def changed_mask(a, b, threshold: float = 32):
    return abs(a[..., :3] - b[..., :3]).max(axis=2) > threshold


# --------------------------------------------------------------------------------------------
# 1. Watermark text: from the config, else `© <tenant name>`


def _marked_and_plain(client, bucket: str, prefix: str = "") -> tuple:
    """watermarked.png and main_tablet.png of input.webp (1024x768: neither is scaled) as pixels."""
    directory = f"{prefix}photos/{uid()}/"
    put_source(client, bucket, directory, "input.webp")
    marked, _ = get_variant(client, bucket, f"{directory}watermarked.png", "png")
    plain, _ = get_variant(client, bucket, f"{directory}main_tablet.png", "png")
    assert png_size(marked) == png_size(plain) == (1024, 768), (png_size(marked), png_size(plain))
    return decode_bytes(marked, "png"), decode_bytes(plain, "png")


@pytest.fixture(scope="module")
def watermark_servers(pool):
    """Two private servers, `watermark: { text: "ZZ-CONFIG-42" }` and `{ text: "A" }`: pixels of
    watermarked.png and main_tablet.png of the same source on each."""
    out, servers = {}, []
    try:
        for label, text in (("zz", "ZZ-CONFIG-42"), ("a", "A")):
            server = config_server(pool, f"wm-{label}", f'watermark: {{ text: "{text}" }}\n')
            servers.append(server)
            s3 = server.client()
            bucket = f"wm-{uid()}"
            s3.create_bucket(Bucket=bucket)
            out[label] = _marked_and_plain(s3, bucket)
        yield out
    finally:
        for s in servers:
            drop(s)


def test_watermark_text_comes_from_the_config(watermark_servers):
    zz_marked, zz_plain = watermark_servers["zz"]
    a_marked, a_plain = watermark_servers["a"]
    h, w = zz_marked.shape[:2]
    # the plain variant does not depend on the watermark text
    assert changed_mask(zz_plain, a_plain).sum() == 0, "main_tablet.png differs between the two servers"
    between = changed_mask(zz_marked, a_marked)
    corner = between[int(h * 0.75):, int(w * 0.5):].sum()
    outside = between.sum() - corner
    assert corner >= 300, (f"watermarked.png with text 'ZZ-CONFIG-42' vs 'A': only {corner} pixels differ in the "
                           f"lower-right corner (the configured text is not used?)")
    assert outside <= 0.001 * h * w, f"the two watermarks differ in {outside} pixels outside the lower-right corner"
    zz = changed_mask(zz_marked, zz_plain).sum()
    a = changed_mask(a_marked, a_plain).sum()
    print(f"watermark pixels: 'ZZ-CONFIG-42' {zz}, 'A' {a}")
    assert a > 0, "the one-letter watermark 'A' changed no pixel"
    assert zz > 2 * a, (f"watermark 'ZZ-CONFIG-42' changed {zz} pixels vs main_tablet.png, 'A' {a}: "
                        f"expected the 12-character text to cover more than twice as many")


def test_default_watermark_text_is_the_tenant_name(http_server, s3, vb):
    """The shared server has no watermark config: a key under a tenant's prefix gets `© <tenant>`;
    a 40-character tenant name covers far more pixels than a 10-character one."""
    long_tenant = add_tenant(http_server, "acme-long-tenant-name-watermark")
    short_tenant = add_tenant(http_server, "b")
    assert len(long_tenant.name) >= 3 * len(short_tenant.name) - 2, (long_tenant.name, short_tenant.name)
    counts = {}
    for t in (long_tenant, short_tenant):
        marked, plain = _marked_and_plain(t.client(), vb, t.prefix)
        changed = changed_mask(marked, plain)
        h, w = changed.shape
        corner = changed[int(h * 0.75):, :].sum()  # a long name may reach past the right half
        assert corner >= 300, f"tenant {t.name}: only {corner} watermark pixels in the bottom quarter"
        counts[t.name] = int(changed.sum())
    print(f"watermark pixels by tenant name: {counts}")
    assert counts[long_tenant.name] > 2 * counts[short_tenant.name], (
        f"default watermark of tenant {long_tenant.name!r} changed {counts[long_tenant.name]} pixels, of "
        f"{short_tenant.name!r} {counts[short_tenant.name]}: the text does not follow the tenant name")


# --------------------------------------------------------------------------------------------
# 2. Perceptual hash against vipsthumbnail


def _needs_colour_import(path: Path) -> bool:
    vipsheader = _tool("vipsheader")
    icc = subprocess.run([vipsheader, "-f", "icc-profile-data", str(path)], capture_output=True, timeout=60)
    interp = subprocess.run([vipsheader, "-f", "interpretation", str(path)], capture_output=True, text=True,
                            timeout=60).stdout
    return icc.returncode == 0 or "CMYK" in interp.upper()


@pytest.mark.parametrize("name", list(NORMAL))
def test_thumb_400_matches_vipsthumbnail_average_hash(s3, vb, sources, name, tmp_path):
    body, _ = get_variant(s3, vb, f"{sources(name)}thumb-400.png", "png")
    src = CORPUS / name
    ref = tmp_path / "ref.png"
    # `>`: shrink only, as the contract says variants are never enlarged (animated.gif is 320 wide)
    cmd = [_tool("vipsthumbnail"), str(src), "-s", "400x>", "-o", str(ref)]
    if _needs_colour_import(src):
        cmd += ["--eprofile", "srgb"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and ref.is_file(), f"{' '.join(cmd)}: {proc.returncode} {proc.stderr[-500:]}"
    ours, theirs = decode_bytes(body, "png"), decode(ref)
    assert abs(ours.shape[0] - theirs.shape[0]) <= 1 and ours.shape[1] == theirs.shape[1], (
        f"{name}: thumb-400.png is {ours.shape[1]}x{ours.shape[0]}, vipsthumbnail {theirs.shape[1]}x{theirs.shape[0]}")
    a, b = average_hash(ours), average_hash(theirs)
    distance = bin(a ^ b).count("1")
    print(f"{name}: average-hash distance to vipsthumbnail {distance}")
    assert distance <= HASH_MAX_DISTANCE, (
        f"{name}: average hash of thumb-400.png {hash_grid(a)} vs vipsthumbnail {hash_grid(b)}: "
        f"Hamming distance {distance} > {HASH_MAX_DISTANCE}")


# --------------------------------------------------------------------------------------------
# 3. Peak memory over the whole corpus


@pytest.mark.slow
def test_deriving_the_corpus_keeps_memory_bounded(private_server):
    server = private_server("http")
    server.start()  # a process of its own: its VmHWM is this test's
    s3 = server.client()
    bucket = f"mem-{uid()}"
    s3.create_bucket(Bucket=bucket)
    for name in NORMAL:
        directory = f"photos/{uid()}/"
        put_source(s3, bucket, directory, name)
        thumb, _ = get_variant(s3, bucket, f"{directory}thumb-400.jpg", "jpg")
        assert jpeg_size(thumb)[0] == min(400, NORMAL[name][0]), f"thumb-400.jpg of {name}: {jpeg_size(thumb)}"
        marked, _ = get_variant(s3, bucket, f"{directory}watermarked.jpg", "jpg")
        assert max(jpeg_size(marked)) == min(2048, max(NORMAL[name])), f"watermarked.jpg of {name}"
    for name, code in HOSTILE.items():
        directory = f"h/{uid()}/"
        ext = name.rsplit(".", 1)[1]
        s3.put_object(Bucket=bucket, Key=f"{directory}original.{ext}", Body=corpus(name),
                      ContentType="application/octet-stream")
        for preset in ("thumb-400", "watermarked"):
            expect_error(lambda: s3.get_object(Bucket=bucket, Key=f"{directory}{preset}.jpg"), 400, code)
    assert server.alive(), "the server died:\n" + server.log_tail()
    kb = vm_hwm_kb(server.pid)
    print(f"VmHWM {kb} kB")
    assert kb < HWM_LIMIT_KB, f"peak resident memory {kb} kB >= {HWM_LIMIT_KB} kB after deriving the corpus"


# --------------------------------------------------------------------------------------------
# 4. Prewarm


def _wait_for_variants(s3, bucket: str, keys: list[str], not_etags: set[str], deadline: float) -> dict[str, str]:
    """Polls the listing until every key is there with an ETag outside `not_etags`: key → ETag."""
    seen: dict[str, str] = {}
    while True:
        page = s3.list_objects_v2(Bucket=bucket, Prefix=keys[0].rsplit("/", 1)[0] + "/")
        seen = {o["Key"]: o["ETag"] for o in page.get("Contents", []) if o["Key"] in keys}
        if len(seen) == len(keys) and not set(seen.values()) & not_etags:
            return seen
        if time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def _wait_metric(server, value: float, deadline: float) -> float:
    got = derivations(server)
    while got < value and time.monotonic() < deadline:
        time.sleep(0.1)
        got = derivations(server)
    return got


def test_prewarm_derives_after_a_source_write(pool):
    server = config_server(pool, "prewarm", "variants: { prewarm: [thumb-400.jpg, main_mobile.webp] }\n")
    try:
        s3 = server.client()
        bucket = f"pw-{uid()}"
        s3.create_bucket(Bucket=bucket)
        keys = ["x/thumb-400.jpg", "x/main_mobile.webp"]
        d0 = derivations(server)
        s3.put_object(Bucket=bucket, Key="x/original.jpg", Body=corpus("photo-mid.jpg"), ContentType="image/jpeg")
        deadline = time.monotonic() + PREWARM_SECONDS
        first = _wait_for_variants(s3, bucket, keys, set(), deadline)
        assert set(first) == set(keys), (f"{PREWARM_SECONDS:.0f} s after PUT x/original.jpg, unread: "
                                         f"{sorted(keys_under(s3, bucket, 'x/'))}; expected {keys} prewarmed")
        got = _wait_metric(server, d0 + 2, deadline)
        assert got == d0 + 2, f"derivations_total rose by {got - d0} after one source write, expected 2"
        assert "x/watermarked.jpg" not in keys_under(s3, bucket, "x/"), "a variant not in the prewarm list was made"
        # they are real, correct variants, served without deriving again
        thumb, _ = get_variant(s3, bucket, keys[0], "jpg")
        assert jpeg_size(thumb) == (400, 300), f"prewarmed thumb-400.jpg is {jpeg_size(thumb)}"
        mobile, _ = get_variant(s3, bucket, keys[1], "webp")
        assert webp_size(mobile) == (640, 480), f"prewarmed main_mobile.webp is {webp_size(mobile)}"
        assert derivations(server) == d0 + 2, "reading a prewarmed variant derived it again"

        # overwrite the source (portrait): fresh variants replace the old ones
        s3.put_object(Bucket=bucket, Key="x/original.jpg", Body=corpus("exif-orientation-6.jpg"),
                      ContentType="image/jpeg")
        deadline = time.monotonic() + PREWARM_SECONDS
        second = _wait_for_variants(s3, bucket, keys, set(first.values()), deadline)
        assert set(second) == set(keys) and not set(second.values()) & set(first.values()), (
            f"{PREWARM_SECONDS:.0f} s after overwriting the source: {second} (before: {first})")
        got = _wait_metric(server, d0 + 4, deadline)
        assert got == d0 + 4, f"derivations_total rose by {got - d0 - 2} after the overwrite, expected 2"
        thumb2, _ = get_variant(s3, bucket, keys[0], "jpg")
        assert jpeg_size(thumb2)[0] == 400 and abs(jpeg_size(thumb2)[1] - 533) <= 1, (
            f"prewarmed thumb-400.jpg of the portrait source is {jpeg_size(thumb2)}")
        assert derivations(server) == d0 + 4
    finally:
        drop(server)


# --------------------------------------------------------------------------------------------
# 5. Config validation


@pytest.mark.parametrize("config,words", [
    ('presets:\n  - { name: "bad.name", width: 10 }\n', ["presets"]),
    ("variants:\n  prewarm: [nope.gif]\n", ["nope.gif"]),
    ("variants:\n  foo: 1\n", ["foo"]),
], ids=["preset-name-with-dot", "prewarm-unknown-format", "unknown-variants-key"])
def test_invalid_variant_config_stops_serve(tmp_path, config, words):
    path = tmp_path / "mediagate.yaml"
    path.write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
    env.update({"MEDIAGATE_ROOT_ACCESS_KEY": "AKVARIANTCFG", "MEDIAGATE_ROOT_SECRET_KEY": "secret-variant-cfg",
                "MEDIAGATE_ADMIN_TOKEN": "admin-variant-cfg"})
    cmd = [str(mediagate_binary()), "serve", "--config", str(path), "--listen", f"127.0.0.1:{free_port()}",
           "--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, errs = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=10)
        pytest.fail(f"`mediagate serve` with the invalid config {config!r} kept running for 30 s")
    text = out + errs
    assert proc.returncode != 0, f"`mediagate serve` with {config!r} exited 0: {text[-1000:]}"
    missing = [w for w in words if w not in text]
    assert not missing, f"the error for {config!r} does not name {missing}: {text[-1000:]!r}"
