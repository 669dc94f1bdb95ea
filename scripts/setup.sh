#!/usr/bin/env bash
# Installs what mediagate needs to build and what its test suites need to run.
# Idempotent and fast when everything is already present. Runs as root on Debian 12;
# reaches only Debian's archive and PyPI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

# --build-only: just what building and running the gateway needs (scripts/run.sh).
BUILD_ONLY=0
if [ "${1:-}" = "--build-only" ]; then BUILD_ONLY=1; fi

APT_PACKAGES=(
  # build dependencies of the Swift package
  libsqlite3-dev libssl-dev libxml2-dev libvips-dev libisal-dev
  # the watermark text font (libvips renders text with pango + fontconfig)
  fonts-dejavu-core
)
if [ $BUILD_ONLY -eq 0 ]; then
  # black-box test tools (conformance/): S3 clients, and the image tools the variant tests
  # check derived images with (vips, vipsheader, vipsthumbnail; exiftool for EXIF/GPS)
  APT_PACKAGES+=(rclone s3cmd openssl curl libvips-tools libimage-exiftool-perl)
  # a real PostgreSQL server for the PostgreSQL metadata tests (started by the tests themselves)
  APT_PACKAGES+=(postgresql)
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists once: when they are absent, or when a first install attempt fails.
  if ! compgen -G "/var/lib/apt/lists/*_Packages" >/dev/null; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  elif ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: Debian packages present"
fi

if [ $BUILD_ONLY -eq 1 ]; then
  echo "setup: ok (build only)"
  exit 0
fi

# Python requirements of conformance/: install only when a pin is not satisfied.
REQ="$ROOT/conformance/requirements.txt"
if "$PY" - "$REQ" <<'PYEOF'
import re, sys
from importlib import metadata
ok = True
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)$", line)
    if not m:
        ok = False
        continue
    name, _, version = m.groups()
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != version:
        print(f"setup: {name} wants {version}, have {have}")
        ok = False
sys.exit(0 if ok else 1)
PYEOF
then
  echo "setup: Python requirements present"
else
  echo "setup: pip install -r conformance/requirements.txt"
  "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$REQ"
fi

# The tools the conformance suite drives must be on PATH.
for tool in aws s3cmd rclone openssl curl vips vipsheader vipsthumbnail exiftool; do
  command -v "$tool" >/dev/null || { echo "setup: $tool not found on PATH" >&2; exit 1; }
done
"$PY" -c "import boto3, botocore, awscrt, requests, pytest; from botocore.httpchecksum import HAS_CRT; assert HAS_CRT, 'botocore cannot use awscrt'" \
  || { echo "setup: Python test dependencies are not importable" >&2; exit 1; }
echo "setup: ok"
