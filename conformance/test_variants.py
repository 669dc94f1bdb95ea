"""Image variants derived on first read (SPEC §6), black box with the image corpus
(/work/shared/corpus, see its README): a GET or HEAD of `<dir>/<preset>.<format>` next to a source
`<dir>/original.<ext>` derives the variant, stores it as an ordinary object and serves it.

Checked from the bytes the server sends: format magic, Content-Type, dimensions (parsed here from
the JPEG SOF / PNG IHDR / WebP VP8/VP8L/VP8X / AVIF `ispe` headers), EXIF orientation applied (and
"sky at the top", from pixels decoded with the `vips` command), no EXIF/XMP/IPTC/GPS (exiftool and a
search for the corpus' private strings), colours converted to sRGB; derivation once under 24
concurrent first reads (metrics); invalidation on overwrite/delete; client objects at variant keys
untouched; hostile sources → 400 InvalidImage/ImageTooLarge with nothing stored and the server
healthy; 503 SlowDown when derivations queue up; tenant prefix and consent rules; presigned GET."""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import empty_bucket, unique_bucket_name
from s3util import key_path
from tenants import add_tenant, corpus, denied, expect_error, fetch, grant, revoke, uid

pytestmark = pytest.mark.mediagate_only

# corpus file → display size (after EXIF orientation), from the corpus README
NORMAL = {
    "photo-large.jpg": (5312, 2988),
    "photo-large-progressive.jpg": (5312, 2988),
    "photo-mid.jpg": (2048, 1536),
    "alpha.png": (500, 500),
    "gray.png": (512, 512),
    "gray.jpg": (512, 512),
    "static.gif": (600, 400),
    "animated.gif": (320, 180),
    "input.webp": (1024, 768),
    "input.heic": (1024, 768),
    "input.avif": (1024, 768),
    "exif-orientation-6.jpg": (1152, 1536),
    "exif-orientation-3.jpg": (576, 768),
    "exif-orientation-8.jpg": (576, 768),
    "exif-gps.jpg": (1024, 768),
    "cmyk.jpg": (800, 600),
    "cmyk-no-profile.jpg": (800, 600),
    "icc-display-p3.jpg": (1024, 768),
    "icc-adobergb.jpg": (1024, 768),
    "png16.png": (512, 384),
}
ORIENTED = {"exif-orientation-6.jpg", "exif-orientation-3.jpg", "exif-orientation-8.jpg"}
SOURCE_TYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
                "heic": "image/heic", "avif": "image/avif"}
FORMATS = {"jpg": "image/jpeg", "webp": "image/webp", "avif": "image/avif", "png": "image/png"}
WIDTH_PRESETS = {"thumb-400": 400, "thumb-800": 800, "thumbnail_small": 160, "thumbnail_large": 320,
                 "main_mobile": 640, "main_tablet": 1024, "main_desktop": 1600, "main_full": 2560}
# strings the corpus wrote into EXIF/XMP/IPTC (exif-gps.jpg, exif-orientation-*.jpg)
PRIVATE = [b"CorpusCam", b"SN-0001-SECRET", b"Test Photographer", b"private location test", b"Test City",
           b"Test Copyright Holder", b"corpus-builder"]
# exiftool -G1 groups that mean EXIF, GPS, XMP, IPTC (or a JPEG comment) is present
FORBIDDEN_GROUPS = ("IFD0", "IFD1", "ExifIFD", "GPS", "InteropIFD", "SubIFD", "MakerNotes", "XMP", "IPTC",
                    "Photoshop")
FORBIDDEN_TAGS = ("File:Comment", "File:ExifByteOrder")

HOSTILE = {  # file → expected error code
    "hostile/empty.jpg": "InvalidImage",
    "hostile/truncated.jpg": "InvalidImage",
    "hostile/not-an-image.jpg": "InvalidImage",
    "hostile/png-bomb-50000x50000.png": "ImageTooLarge",
    "hostile/jpeg-huge-dimensions.jpg": "ImageTooLarge",
}
HOSTILE_SECONDS = 10.0


# --------------------------------------------------------------------------------------------
# Reading images: headers parsed here, pixels through the vips command line


def is_format(data: bytes, fmt: str) -> bool:
    if fmt == "jpg":
        return data[:3] == b"\xff\xd8\xff"
    if fmt == "png":
        return data[:8] == b"\x89PNG\r\n\x1a\n"
    if fmt == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if fmt == "avif":
        if data[4:8] != b"ftyp":
            return False
        size = struct.unpack(">I", data[:4])[0]
        brands = [data[8:12]] + [data[i:i + 4] for i in range(16, size, 4)]
        return b"avif" in brands
    raise ValueError(fmt)


def jpeg_size(b: bytes) -> tuple[int, int]:
    i = 2
    while i + 4 <= len(b):
        if b[i] != 0xFF:
            raise AssertionError(f"JPEG: no marker at offset {i}")
        while b[i] == 0xFF:
            i += 1
        marker = b[i]
        i += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue
        if marker in (0xD9, 0xDA):
            break
        length = struct.unpack(">H", b[i:i + 2])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", b[i + 3:i + 7])
            return w, h
        i += length
    raise AssertionError("JPEG: no SOF marker before the scan")


def png_size(b: bytes) -> tuple[int, int]:
    assert b[12:16] == b"IHDR", "PNG: first chunk is not IHDR"
    return struct.unpack(">II", b[16:24])


def webp_size(b: bytes) -> tuple[int, int]:
    i = 12
    while i + 8 <= len(b):
        fourcc, size = b[i:i + 4], struct.unpack("<I", b[i + 4:i + 8])[0]
        d = b[i + 8:i + 8 + size]
        if fourcc == b"VP8X":
            return int.from_bytes(d[4:7], "little") + 1, int.from_bytes(d[7:10], "little") + 1
        if fourcc == b"VP8 ":
            assert d[3:6] == b"\x9d\x01\x2a", "VP8: bad start code"
            return struct.unpack("<H", d[6:8])[0] & 0x3FFF, struct.unpack("<H", d[8:10])[0] & 0x3FFF
        if fourcc == b"VP8L":
            assert d[0] == 0x2F, "VP8L: bad signature"
            bits = struct.unpack("<I", d[1:5])[0]
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        i += 8 + size + (size & 1)
    raise AssertionError("WebP: no VP8X/VP8/VP8L chunk")


def _boxes(b: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I", b[i:i + 4])[0], b[i + 4:i + 8]
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", b[i + 8:i + 16])[0], 16
        elif size == 0:
            size = end - i
        if size < header:
            break
        yield kind, i + header, i + size
        i += size


def avif_size(b: bytes) -> tuple[int, int]:
    """Display size of the primary item: its `ispe`, with a 90°/270° `irot` applied."""
    for kind, s, e in _boxes(b, 0, len(b)):
        if kind != b"meta":
            continue
        primary = None
        props: list[tuple[bytes, int, int]] = []
        assoc: dict[int, list[int]] = {}
        for k2, s2, e2 in _boxes(b, s + 4, e):  # meta is a full box
            if k2 == b"pitm":
                primary = struct.unpack(">H", b[s2 + 4:s2 + 6])[0] if b[s2] == 0 else struct.unpack(">I", b[s2 + 4:s2 + 8])[0]
            if k2 == b"iprp":
                for k3, s3, e3 in _boxes(b, s2, e2):
                    if k3 == b"ipco":
                        props = list(_boxes(b, s3, e3))
                    if k3 == b"ipma":
                        version, flags = b[s3], int.from_bytes(b[s3 + 1:s3 + 4], "big")
                        n = struct.unpack(">I", b[s3 + 4:s3 + 8])[0]
                        p = s3 + 8
                        for _ in range(n):
                            if version < 1:
                                item = struct.unpack(">H", b[p:p + 2])[0]
                                p += 2
                            else:
                                item = struct.unpack(">I", b[p:p + 4])[0]
                                p += 4
                            count = b[p]
                            p += 1
                            idx = []
                            for _ in range(count):
                                if flags & 1:
                                    idx.append(struct.unpack(">H", b[p:p + 2])[0] & 0x7FFF)
                                    p += 2
                                else:
                                    idx.append(b[p] & 0x7F)
                                    p += 1
                            assoc[item] = idx
        chosen = [props[i - 1] for i in assoc.get(primary, []) if 0 < i <= len(props)] or props
        size = None
        rot = 0
        for k, s3, e3 in chosen:
            if k == b"ispe" and size is None:
                size = struct.unpack(">II", b[s3 + 4:s3 + 12])
            if k == b"irot":
                rot = b[s3] & 3
        assert size is not None, "AVIF: no ispe property"
        return (size[1], size[0]) if rot in (1, 3) else size
    raise AssertionError("AVIF: no meta box")


def image_size(data: bytes, fmt: str) -> tuple[int, int]:
    return {"jpg": jpeg_size, "png": png_size, "webp": webp_size, "avif": avif_size}[fmt](data)


def pixels(data: bytes, fmt: str):
    """Decoded 8-bit pixels (h, w, bands) as a float numpy array, via `vips rawsave`."""
    import numpy as np

    vips, vipsheader = shutil.which("vips"), shutil.which("vipsheader")
    if not (vips and vipsheader):
        pytest.fail("the vips command line is needed to decode pixels")
    with tempfile.TemporaryDirectory(prefix="variant-px-") as d:
        src, raw = Path(d) / f"in.{fmt}", Path(d) / "out.raw"
        src.write_bytes(data)
        subprocess.run([vips, "rawsave", str(src), str(raw)], check=True, capture_output=True, timeout=60)
        dims = [int(subprocess.run([vipsheader, "-f", f, str(src)], check=True, capture_output=True,
                                   text=True, timeout=60).stdout) for f in ("width", "height", "bands")]
        fmt_field = subprocess.run([vipsheader, "-f", "format", str(src)], capture_output=True, text=True,
                                   timeout=60).stdout.strip()
        assert "UCHAR" in fmt_field.upper(), f"decoded {fmt} is not 8-bit ({fmt_field})"
        a = np.fromfile(raw, dtype=np.uint8)
        w, h, bands = dims
        assert a.size == w * h * bands, f"raw size {a.size} != {w}x{h}x{bands}"
        return a.reshape(h, w, bands).astype(float)


def exif_groups(data: bytes, fmt: str) -> dict:
    exiftool = shutil.which("exiftool")
    if not exiftool:
        pytest.fail("exiftool is not installed")
    with tempfile.TemporaryDirectory(prefix="variant-exif-") as d:
        p = Path(d) / f"out.{fmt}"
        p.write_bytes(data)
        out = subprocess.run([exiftool, "-a", "-G1", "-j", str(p)], capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout)[0]


def assert_no_metadata(data: bytes, fmt: str, what: str):
    tags = exif_groups(data, fmt)
    bad = {k: v for k, v in tags.items()
           if k.split(":", 1)[0].startswith(FORBIDDEN_GROUPS) or k in FORBIDDEN_TAGS}
    assert not bad, f"{what}: metadata left in the variant: {bad}"
    leaked = [s for s in PRIVATE if s in data]
    assert not leaked, f"{what}: private metadata strings in the variant bytes: {leaked}"


def expected_size(display: tuple[int, int], width: int) -> tuple[int, int]:
    w, h = display
    if w <= width:
        return w, h
    return width, round(width * h / w)


def assert_size(got: tuple[int, int], want: tuple[int, int], what: str):
    assert got[0] == want[0] and abs(got[1] - want[1]) <= 1, f"{what}: size {got}, expected {want} (height ±1)"


# --------------------------------------------------------------------------------------------
# Server helpers


def metric(server, name: str) -> float:
    r = fetch(server.endpoint + "/_mediagate/metrics")
    assert r.status == 200, f"GET /_mediagate/metrics: {r}"
    for line in r.body.decode("utf-8", "replace").splitlines():
        if line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2 and (parts[0] == name or parts[0].startswith(name + "{")):
            return float(parts[1])
    raise AssertionError(f"{name} is not in /_mediagate/metrics")


def derivations(server) -> float:
    return metric(server, "mediagate_variant_derivations_total")


def cache_hits(server) -> float:
    return metric(server, "mediagate_variant_cache_hits_total")


def keys_under(client, bucket: str, prefix: str) -> dict[str, int]:
    out, token = {}, None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = client.list_objects_v2(**kw)
        out.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        if not page.get("IsTruncated"):
            return out
        token = page["NextContinuationToken"]


def put_source(client, bucket: str, directory: str, name: str, ext: str | None = None) -> str:
    ext = ext or name.rsplit(".", 1)[1]
    key = f"{directory}original.{ext}"
    client.put_object(Bucket=bucket, Key=key, Body=corpus(name), ContentType=SOURCE_TYPES[ext])
    return key


def get_variant(client, bucket: str, key: str, fmt: str) -> tuple[bytes, float]:
    t0 = time.monotonic()
    try:
        got = client.get_object(Bucket=bucket, Key=key)
    except ClientError as e:
        raise AssertionError(f"GET {key}: {e.response['ResponseMetadata']['HTTPStatusCode']} "
                             f"{e.response.get('Error')}") from None
    body = got["Body"].read()
    elapsed = time.monotonic() - t0
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ContentType"] == FORMATS[fmt], f"GET {key}: Content-Type {got['ContentType']!r}"
    assert is_format(body, fmt), f"GET {key}: body is not {fmt}: {body[:16]!r}"
    assert got["ContentLength"] == len(body)
    return body, elapsed


@pytest.fixture(scope="module")
def vb(s3):
    bucket = unique_bucket_name("variants")
    s3.create_bucket(Bucket=bucket)
    yield bucket
    empty_bucket(s3, bucket)


@pytest.fixture(scope="module")
def sources(s3, vb):
    """Corpus file → the directory of its uploaded source under photos/ (uploaded once)."""
    made: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in made:
            directory = f"photos/{uid()}/{name.replace('.', '_')}/"
            put_source(s3, vb, directory, name)
            made[name] = directory
        return made[name]

    return get


# --------------------------------------------------------------------------------------------
# 1. Every normal corpus file → thumb-400 in each format


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", list(NORMAL))
def test_thumb_400_of_every_corpus_file(s3, vb, sources, name, fmt):
    directory = sources(name)
    key = f"{directory}thumb-400.{fmt}"
    body, elapsed = get_variant(s3, vb, key, fmt)
    assert elapsed < 30, f"deriving {key} took {elapsed:.1f} s"
    got = image_size(body, fmt)
    assert_size(got, expected_size(NORMAL[name], 400), f"thumb-400.{fmt} of {name}")
    assert_no_metadata(body, fmt, f"thumb-400.{fmt} of {name}")
    if name in ORIENTED:
        assert got[0] < got[1], f"{name}: thumb-400.{fmt} is {got}, not portrait/upright"
        grey = pixels(body, fmt)[..., :3].mean(axis=2)
        q = grey.shape[0] // 4
        top, bottom = grey[:q].mean(), grey[-q:].mean()
        assert top > bottom + 20, (f"{name}: thumb-400.{fmt} is not upright (sky at the top): top quarter "
                                   f"mean {top:.1f}, bottom quarter {bottom:.1f}")
    # stored as an ordinary object, listed with its size
    listed = keys_under(s3, vb, directory)
    assert listed.get(key) == len(body), f"{key} not listed with size {len(body)}: {listed}"


def test_other_presets_of_photo_mid(s3, vb, sources):
    directory = sources("photo-mid.jpg")
    for preset, width in WIDTH_PRESETS.items():
        body, _ = get_variant(s3, vb, f"{directory}{preset}.jpg", "jpg")
        assert_size(jpeg_size(body), expected_size((2048, 1536), width), f"{preset}.jpg of photo-mid.jpg")
        assert_no_metadata(body, "jpg", f"{preset}.jpg")
    body, _ = get_variant(s3, vb, f"{directory}watermarked.jpg", "jpg")
    assert jpeg_size(body) == (2048, 1536), f"watermarked.jpg of a 2048x1536 source: {jpeg_size(body)}"
    assert_no_metadata(body, "jpg", "watermarked.jpg")


def _colour(px) -> tuple[list[float], float]:
    """Mean of each channel, and mean chroma (spread of R, G, B within a pixel)."""
    return px[..., :3].mean(axis=(0, 1)).tolist(), float(px[..., :3].std(axis=2).mean())


def _colour_problems(s3, vb, sources, names: dict[str, float], reference: str | None = None) -> list[str]:
    """thumb-400.png of each source vs the mean colour of the sRGB pixels of `reference` (each
    file's own pixels when None): a resize keeps the mean colour."""
    problems = []
    for name, limit in names.items():
        ref_name = reference or name
        ref_mean, ref_chroma = _colour(pixels(corpus(ref_name), ref_name.rsplit(".", 1)[1]))
        out, _ = get_variant(s3, vb, f"{sources(name)}thumb-400.png", "png")
        mean, chroma = _colour(pixels(out, "png"))
        diff = [m - r for m, r in zip(mean, ref_mean)]
        if max(abs(d) for d in diff) > limit or not 0.95 <= chroma / ref_chroma <= 1.05:
            problems.append(f"{name}: mean RGB {[round(m, 1) for m in mean]} vs {[round(r, 1) for r in ref_mean]} "
                            f"of {ref_name} (difference {[round(d, 1) for d in diff]}, limit ±{limit}); "
                            f"chroma ratio {chroma / ref_chroma:.3f} (expected 0.95..1.05)")
    return problems


def test_untagged_srgb_colours_are_kept(s3, vb, sources):
    """A source without an ICC profile is sRGB: its variant keeps its colours (the mean colour of a
    resized image equals the source's within rounding)."""
    problems = _colour_problems(s3, vb, sources, {"photo-mid.jpg": 1.0, "input.webp": 1.0})
    assert not problems, "untagged sRGB sources changed colour:\n" + "\n".join(problems)


def test_wide_gamut_and_cmyk_sources_are_converted_to_srgb(s3, vb, sources):
    """P3, Adobe RGB and CMYK copies of the photo in photo-mid.jpg come out with its sRGB colours
    (P3 pixels read as sRGB without conversion: chroma -14 %)."""
    limits = {"icc-display-p3.jpg": 1.0, "icc-adobergb.jpg": 1.0, "cmyk.jpg": 3.0, "cmyk-no-profile.jpg": 3.0}
    problems = _colour_problems(s3, vb, sources, limits, reference="photo-mid.jpg")
    assert not problems, "colours not converted to sRGB:\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# 2. HEAD derives too; later reads are cache hits


def test_head_derives_and_get_serves_the_stored_variant(http_server, s3, vb):
    directory = f"photos/{uid()}/"
    put_source(s3, vb, directory, "input.webp")
    key = f"{directory}thumb-800.webp"
    assert key not in keys_under(s3, vb, directory)
    d0, h0 = derivations(http_server), cache_hits(http_server)
    head = s3.head_object(Bucket=vb, Key=key)
    assert head["ContentType"] == "image/webp"
    assert derivations(http_server) == d0 + 1, "HEAD of a missing variant did not derive it"
    listed = keys_under(s3, vb, directory)
    assert key in listed, f"HEAD did not store the variant: {listed}"
    body, _ = get_variant(s3, vb, key, "webp")
    assert head["ContentLength"] == len(body) == listed[key]
    assert webp_size(body) == (800, 600)
    body2, _ = get_variant(s3, vb, key, "webp")
    assert body2 == body
    assert derivations(http_server) == d0 + 1, "a stored variant was derived again"
    assert cache_hits(http_server) >= h0 + 2, "GETs of a stored variant are not counted as cache hits"


def test_variant_of_a_missing_source_is_nosuchkey(s3, vb):
    directory = f"photos/{uid()}/"
    expect_error(lambda: s3.get_object(Bucket=vb, Key=f"{directory}thumb-400.jpg"), 404, "NoSuchKey")
    expect_error(lambda: s3.head_object(Bucket=vb, Key=f"{directory}thumb-400.webp"), 404, head=True)
    assert keys_under(s3, vb, directory) == {}


# --------------------------------------------------------------------------------------------
# 3. Concurrent first reads derive once


def test_concurrent_first_reads_derive_once(http_server, vb, s3):
    directory = f"photos/{uid()}/"
    put_source(s3, vb, directory, "photo-mid.jpg")
    key = f"{directory}main_mobile.webp"
    client = http_server.client(max_pool_connections=32)
    d0 = derivations(http_server)

    def one(_):
        try:
            r = client.get_object(Bucket=vb, Key=key)
            return 200, r["Body"].read(), r["ContentType"]
        except ClientError as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response.get("Error"), None

    with ThreadPoolExecutor(max_workers=24) as ex:
        results = list(ex.map(one, range(24)))
    statuses = [r[0] for r in results]
    assert statuses == [200] * 24, f"statuses: {statuses}; errors: {[r[1] for r in results if r[0] != 200]}"
    bodies = {r[1] for r in results}
    assert len(bodies) == 1, f"{len(bodies)} different bodies among 24 first reads"
    assert {r[2] for r in results} == {"image/webp"}
    assert webp_size(bodies.pop()) == (640, 480)
    assert derivations(http_server) == d0 + 1, (f"24 concurrent first reads: derivations_total rose by "
                                                f"{derivations(http_server) - d0}, expected 1")


# --------------------------------------------------------------------------------------------
# 4. Invalidation on overwrite and delete; a client's own object at a variant key is kept


def test_overwrite_and_delete_invalidate_variants_but_not_client_objects(s3, vb):
    directory = f"photos/{uid()}/"
    mine = corpus("gray.jpg")  # a client's own object at a variant key
    s3.put_object(Bucket=vb, Key=f"{directory}thumb-800.jpg", Body=mine, ContentType="image/jpeg")
    src = put_source(s3, vb, directory, "photo-mid.jpg")

    first, _ = get_variant(s3, vb, f"{directory}thumb-400.jpg", "jpg")
    assert jpeg_size(first) == (400, 300)
    got = s3.get_object(Bucket=vb, Key=f"{directory}thumb-800.jpg")
    assert got["Body"].read() == mine, "the client's object at thumb-800.jpg was replaced by a variant"

    # overwrite the source with a portrait image
    s3.put_object(Bucket=vb, Key=src, Body=corpus("exif-orientation-6.jpg"), ContentType="image/jpeg")
    listed = keys_under(s3, vb, directory)
    assert f"{directory}thumb-400.jpg" not in listed, f"overwriting the source left its variant: {listed}"
    second, _ = get_variant(s3, vb, f"{directory}thumb-400.jpg", "jpg")
    assert second != first, "GET after overwriting the source served the old variant"
    assert_size(jpeg_size(second), (400, 533), "thumb-400.jpg of the new source")
    assert s3.get_object(Bucket=vb, Key=f"{directory}thumb-800.jpg")["Body"].read() == mine

    # delete the source
    s3.delete_object(Bucket=vb, Key=src)
    expect_error(lambda: s3.get_object(Bucket=vb, Key=f"{directory}thumb-400.jpg"), 404, "NoSuchKey")
    listed = keys_under(s3, vb, directory)
    assert set(listed) == {f"{directory}thumb-800.jpg"}, f"after deleting the source: {listed}"
    assert s3.get_object(Bucket=vb, Key=f"{directory}thumb-800.jpg")["Body"].read() == mine


def test_overwrite_between_reads_never_serves_the_old_variant(s3, vb):
    """Several rounds of overwrite → read: every read matches the source it follows."""
    directory = f"photos/{uid()}/"
    key = f"{directory}thumbnail_small.png"
    for name, want in [("photo-mid.jpg", (160, 120)), ("exif-orientation-8.jpg", (160, 213)),
                       ("gray.jpg", (160, 160)), ("photo-mid.jpg", (160, 120))]:
        put_source(s3, vb, directory, name)
        body, _ = get_variant(s3, vb, key, "png")
        assert_size(png_size(body), want, f"thumbnail_small.png after uploading {name}")


# --------------------------------------------------------------------------------------------
# 5. Hostile sources


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_source(http_server, s3, vb, name):
    directory = f"h/{uid()}/"
    ext = name.rsplit(".", 1)[1]
    src = f"{directory}original.{ext}"
    s3.put_object(Bucket=vb, Key=src, Body=corpus(name), ContentType="application/octet-stream")
    for fmt in ("jpg", "webp"):
        key = f"{directory}thumb-400.{fmt}"
        t0 = time.monotonic()
        e = expect_error(lambda: s3.get_object(Bucket=vb, Key=key), 400, HOSTILE[name])
        elapsed = time.monotonic() - t0
        assert elapsed < HOSTILE_SECONDS, f"{name}: refusing {key} took {elapsed:.1f} s"
        assert "libvips" not in str(e.response.get("Error", {}).get("Message", "")).lower()
    t0 = time.monotonic()
    expect_error(lambda: s3.head_object(Bucket=vb, Key=f"{directory}watermarked.avif"), 400, head=True)
    assert time.monotonic() - t0 < HOSTILE_SECONDS
    listed = keys_under(s3, vb, directory)
    assert set(listed) == {src}, f"{name}: something besides the source was stored: {listed}"

    assert http_server.alive(), "the server died"
    r = fetch(http_server.endpoint + "/_mediagate/health")
    assert r.status == 200, f"/_mediagate/health after {name}: {r}"
    ok_dir = f"photos/{uid()}/"
    put_source(s3, vb, ok_dir, "gray.jpg")
    body, _ = get_variant(s3, vb, f"{ok_dir}thumb-400.jpg", "jpg")
    assert jpeg_size(body) == (400, 400)


# --------------------------------------------------------------------------------------------
# Queue bound: 503 SlowDown with Retry-After


@pytest.mark.slow
def test_full_queue_answers_slowdown(http_server, s3, vb):
    dirs = [f"photos/{uid()}/" for _ in range(2)]
    for d in dirs:
        put_source(s3, vb, d, "photo-large.jpg")
    keys = [f"{d}{p}.{f}" for d in dirs for p in ("main_full", "main_desktop", "watermarked", "main_tablet",
                                                   "main_mobile", "thumb-800") for f in FORMATS]
    raw = http_server.raw()

    def one(key):
        r = raw.request("GET", key_path(vb, key))
        return key, r.status, r.header("Retry-After"), r.error.get("Code"), r.body[:16]

    with ThreadPoolExecutor(max_workers=len(keys)) as ex:
        results = list(ex.map(one, keys))
    other = [r for r in results if r[1] not in (200, 503)]
    assert not other, f"answers other than 200/503: {other}"
    slow = [r for r in results if r[1] == 503]
    assert slow, f"{len(keys)} concurrent derivations on a 2-core machine: no 503 SlowDown"
    for key, status, retry, code, _ in slow:
        assert code == "SlowDown", f"{key}: 503 {code}"
        assert retry and retry.strip().isdigit(), f"{key}: 503 without a Retry-After in seconds ({retry!r})"
    listed = keys_under(s3, vb, dirs[0]) | keys_under(s3, vb, dirs[1])
    for key, *_ in slow:
        assert key not in listed, f"{key} answered 503 but was stored"
    key = slow[0][0]
    fmt = key.rsplit(".", 1)[1]
    get_variant(s3, vb, key, fmt)  # the server recovered
    assert fetch(http_server.endpoint + "/_mediagate/health").status == 200


# --------------------------------------------------------------------------------------------
# 6. Watermark


def test_watermark_is_in_the_lower_right_corner(s3, vb):
    """watermarked.png vs main_tablet.png of a 1024x768 source (both unscaled, lossless): they
    differ in the lower-right corner and (almost) nowhere else."""
    directory = f"photos/{uid()}/"
    put_source(s3, vb, directory, "input.webp")
    marked, _ = get_variant(s3, vb, f"{directory}watermarked.png", "png")
    plain, _ = get_variant(s3, vb, f"{directory}main_tablet.png", "png")
    assert png_size(marked) == png_size(plain) == (1024, 768)
    a, b = pixels(marked, "png")[..., :3], pixels(plain, "png")[..., :3]
    changed = abs(a - b).max(axis=2) > 32
    h, w = changed.shape
    corner = changed[int(h * 0.75):, int(w * 0.5):]
    outside = changed.copy()
    outside[int(h * 0.75):, int(w * 0.5):] = False
    assert corner.sum() >= 300, f"watermark: only {corner.sum()} pixels changed in the lower-right corner"
    assert outside.sum() <= 0.001 * (h * w), f"watermark: {outside.sum()} pixels changed outside the corner"


def test_watermarked_longest_edge(s3, vb, sources):
    body, _ = get_variant(s3, vb, f"{sources('photo-large.jpg')}watermarked.jpg", "jpg")
    assert_size(jpeg_size(body), (2048, 1152), "watermarked.jpg of a 5312x2988 source")
    body, _ = get_variant(s3, vb, f"{sources('exif-orientation-6.jpg')}watermarked.webp", "webp")
    assert webp_size(body) == (1152, 1536), "watermarked.webp of a 1152x1536 (display) source: not upscaled"
    assert_no_metadata(body, "webp", "watermarked.webp")


# --------------------------------------------------------------------------------------------
# 7. Tenant prefix and consent


def test_variants_follow_tenant_and_consent_rules(http_server, s3, vb):
    acme = add_tenant(http_server, "acme")
    bolt = add_tenant(http_server, "bolt")
    subject = f"u1-{uid()}"
    directory = f"{acme.prefix}selfies/{subject}/"
    grant(http_server, subject, acme)
    ac = acme.client()
    ac.put_object(Bucket=vb, Key=f"{directory}original.jpg", Body=corpus("photo-mid.jpg"), ContentType="image/jpeg")

    body, _ = get_variant(ac, vb, f"{directory}thumb-400.jpg", "jpg")
    assert jpeg_size(body) == (400, 300)

    # bolt can neither read acme's stored variant nor make one derive
    denied(lambda: bolt.client().get_object(Bucket=vb, Key=f"{directory}thumb-400.jpg"))
    denied(lambda: bolt.client().get_object(Bucket=vb, Key=f"{directory}thumb-800.jpg"))
    denied(lambda: bolt.client().head_object(Bucket=vb, Key=f"{directory}thumb-800.webp"), head=True)
    assert set(keys_under(s3, vb, directory)) == {f"{directory}original.jpg", f"{directory}thumb-400.jpg"}

    # presigned GET (900 s) of a variant not derived yet
    url = ac.generate_presigned_url("get_object", Params={"Bucket": vb, "Key": f"{directory}main_mobile.webp"},
                                    ExpiresIn=900)
    r = fetch(url)
    assert r.status == 200, f"presigned GET of a variant: {r}"
    assert r.header("Content-Type") == "image/webp" and webp_size(r.body) == (640, 480)
    stored_url = ac.generate_presigned_url("get_object", Params={"Bucket": vb, "Key": f"{directory}thumb-400.jpg"},
                                           ExpiresIn=900)
    assert fetch(stored_url).body == body

    revoke(http_server, subject, acme)
    denied(lambda: ac.get_object(Bucket=vb, Key=f"{directory}thumb-400.jpg"))
    denied(lambda: ac.get_object(Bucket=vb, Key=f"{directory}thumb-800.jpg"))
    denied(lambda: s3.get_object(Bucket=vb, Key=f"{directory}main_tablet.jpg"))  # root is bound too
    denied(lambda: ac.head_object(Bucket=vb, Key=f"{directory}thumb-400.jpg"), head=True)
    r = fetch(stored_url)
    assert (r.status, r.code) == (403, "AccessDenied"), f"presigned variant URL after revocation: {r}"
    listed = set(keys_under(s3, vb, directory))
    assert listed == {f"{directory}original.jpg", f"{directory}thumb-400.jpg", f"{directory}main_mobile.webp"}, \
        f"reads refused for lack of consent derived variants: {listed}"
