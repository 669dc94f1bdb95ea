"""A real PostgreSQL server (Debian's `postgresql`) for the suite: a fresh cluster in a temp dir on
a free loopback port, one database per caller. Run as `postgres` when the suite runs as root
(initdb refuses root)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from conftest import free_port


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not found:
        raise RuntimeError(f"{name} not found: install Debian's postgresql (scripts/setup.sh does)")
    return found[0]


class PostgresServer:
    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="conformance-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = (["runuser", "-u", "postgres", "--"] if self.as_root else []) + list(args)
        # stdout to a file, not a pipe: the server pg_ctl leaves running would keep a pipe open.
        with open(self.base / "cmd.log", "ab") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {(self.base / 'cmd.log').read_text()[-2000:]}")
        return proc

    def start(self) -> "PostgresServer":
        self.data.mkdir(parents=True)
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.data, "postgres", "postgres")
        self._run(_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "mediagate", "--no-sync", "-E", "UTF8")
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def database(self) -> str:
        name = "c_" + uuid.uuid4().hex[:12]
        subprocess.run([_binary("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "mediagate", "-d", "postgres",
                        "-v", "ON_ERROR_STOP=1", "-q", "-c", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True, timeout=60)
        return f"postgres://mediagate@127.0.0.1:{self.port}/{name}"

    def stop(self):
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)
