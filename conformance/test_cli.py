"""The command line itself: settings precedence (flag > MEDIAGATE_* environment > config file >
default), generated root credentials (stored 0600, printed once), and `mediagate presign`."""
import os
import stat
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import IS_MOTO, free_port, mediagate_binary

pytestmark = pytest.mark.mediagate_only


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_mediagate/ready", timeout=1) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    return False


def _start(args, env, cwd):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}
    full_env.update(env)
    return subprocess.Popen([str(mediagate_binary()), "serve", *args], env=full_env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _stop(proc) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return out or ""


@pytest.mark.parametrize("layers", ["file", "file+env", "file+env+flag"])
def test_listen_precedence(tmp_path, layers):
    if IS_MOTO:
        pytest.skip("command line of mediagate")
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
    config = tmp_path / "mediagate.yaml"
    config.write_text(f"listen: 127.0.0.1:{file_port}\ndata-dir: {tmp_path / 'data-from-file'}\n")
    env = {"MEDIAGATE_ROOT_ACCESS_KEY": "AKCLI", "MEDIAGATE_ROOT_SECRET_KEY": "secret-cli"}
    args = ["--config", str(config)]
    expected = file_port
    if "env" in layers:
        env["MEDIAGATE_LISTEN"] = f"127.0.0.1:{env_port}"
        expected = env_port
    if "flag" in layers:
        args += ["--listen", f"127.0.0.1:{flag_port}"]
        expected = flag_port
    proc = _start(args, env, tmp_path)
    try:
        assert _wait_ready(expected, proc), f"not serving on the {layers} port {expected}"
        for other in {file_port, env_port, flag_port} - {expected}:
            with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
                urllib.request.urlopen(f"http://127.0.0.1:{other}/_mediagate/health", timeout=1)
        assert (tmp_path / "data-from-file" / "mediagate.db").exists(), "data-dir from the config file not used"
    finally:
        _stop(proc)


def test_unknown_config_key_is_refused(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("listen: 127.0.0.1:1\nlisten_adress: typo\n")
    proc = _start(["--config", str(config)], {}, tmp_path)
    try:
        proc.wait(timeout=30)
    finally:
        out = _stop(proc) if proc.poll() is None else (proc.stdout.read() if proc.stdout else "")
    assert proc.returncode != 0
    assert "listen_adress" in out


def test_generated_credentials_are_private_printed_once_and_presign_works(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    proc = _start(["--listen", f"127.0.0.1:{port}", "--data-dir", str(data)], {}, tmp_path)
    try:
        assert _wait_ready(port, proc)
    finally:
        first = _stop(proc)
    secret_file = data / "secrets" / "root-credentials"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    access, secret = secret_file.read_text().split()
    assert access in first and secret in first, "generated credentials must be printed on first start"

    proc = _start(["--listen", f"127.0.0.1:{port}", "--data-dir", str(data)], {}, tmp_path)
    try:
        assert _wait_ready(port, proc)
        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=access,
                          aws_secret_access_key=secret, region_name="us-east-1",
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
        s3.create_bucket(Bucket="cli")
        s3.put_object(Bucket="cli", Key="a b/ü.txt", Body=b"presigned via the CLI")
        url = subprocess.run([str(mediagate_binary()), "presign", "GET", "s3://cli/a b/ü.txt", "--data-dir", str(data),
                              "--endpoint", f"http://127.0.0.1:{port}", "--expires", "300"],
                             capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.read() == b"presigned via the CLI"
        put_url = subprocess.run([str(mediagate_binary()), "presign", "PUT", "s3://cli/up.bin", "--data-dir", str(data),
                                  "--endpoint", f"http://127.0.0.1:{port}"],
                                 capture_output=True, text=True, timeout=30, check=True).stdout.strip()
        req = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
        assert s3.get_object(Bucket="cli", Key="up.bin")["Body"].read() == b"uploaded"
    finally:
        second = _stop(proc)
    assert secret not in second, "credentials are printed only on the start that generated them"


def test_second_serve_on_one_data_dir_is_refused(tmp_path):
    """Two gateways on one data dir would remove each other's temp files at start-up."""
    env = {"MEDIAGATE_ROOT_ACCESS_KEY": "AKCLI", "MEDIAGATE_ROOT_SECRET_KEY": "secret-cli"}
    first_port, second_port = free_port(), free_port()
    data = tmp_path / "data"
    first = _start(["--listen", f"127.0.0.1:{first_port}", "--data-dir", str(data)], env, tmp_path)
    try:
        assert _wait_ready(first_port, first)
        second = subprocess.run([str(mediagate_binary()), "serve", "--listen", f"127.0.0.1:{second_port}",
                                 "--data-dir", str(data)],
                                env={**{k: v for k, v in os.environ.items() if not k.startswith("MEDIAGATE_")}, **env},
                                cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "another mediagate serve" in (second.stdout + second.stderr)
        # the first one still serves
        with urllib.request.urlopen(f"http://127.0.0.1:{first_port}/_mediagate/health", timeout=5) as r:
            assert r.status == 200
    finally:
        _stop(first)
    # once it has stopped, the data dir can be served again
    third = _start(["--listen", f"127.0.0.1:{second_port}", "--data-dir", str(data)], env, tmp_path)
    try:
        assert _wait_ready(second_port, third)
    finally:
        _stop(third)
