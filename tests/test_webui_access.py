"""Who may reach the web UI and how many may wait: the optional login (required beyond loopback), the queue
size, and the scratch folder removed when the server is stopped with SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import free_port

from aigve.cli import build_parser, main
from aigve.errors import ConfigError
from aigve.webui.safety import Limits, check_exposure, is_loopback, read_auth_file

REPO = Path(__file__).resolve().parents[1]
CLIP = "lavie_beach_00.mp4"
USERS = [("ann", "s3cret:with-colon"), ("bob", "hunter2")]


# ---------------------------------------------------------------- loopback and the auth file

@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "10.1.2.3", "no-such-host.invalid"])
def test_hosts_beyond_this_machine(host):
    assert not is_loopback(host)


def test_auth_file_pairs_comments_and_colons_in_passwords(tmp_path):
    f = tmp_path / "users"
    f.write_text("# who may log in\n\nann:s3cret:with-colon\n  bob:hunter2  \n")
    assert read_auth_file(f) == USERS


@pytest.mark.parametrize("text, problem", [
    ("ann\n", "line 1 is not 'user:password'"),
    ("ann:pw\n:nobody\n", "line 2 is not 'user:password'"),
    ("ann:\n", "line 1 is not 'user:password'"),
    ("ann:pw\nann:other\n", "line 2 repeats user 'ann'"),
    ("# only comments\n\n", "holds no 'user:password' line"),
])
def test_bad_auth_files_name_the_line_never_the_password(tmp_path, text, problem):
    f = tmp_path / "users"
    f.write_text(text)
    with pytest.raises(ConfigError, match=problem) as exc:
        read_auth_file(f)
    assert "pw" not in str(exc.value).replace(str(f), "") and "other" not in str(exc.value)


def test_missing_auth_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="auth_file.*cannot be read"):
        read_auth_file(tmp_path / "nope")


def test_exposure_needs_a_password_beyond_loopback():
    check_exposure("127.0.0.1", False, None)
    check_exposure("0.0.0.0", True, USERS)
    with pytest.raises(ConfigError, match="`auth_file=FILE`"):
        check_exposure("0.0.0.0", False, None)
    with pytest.raises(ConfigError, match="public link needs a password"):
        check_exposure("127.0.0.1", True, None)


def test_app_beyond_loopback_without_auth_refuses_to_start(capsys):
    assert main(["app", "--backend", "fake", "--lazy", "--host", "0.0.0.0", "--port", str(free_port())]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and out.err.startswith("aigve app: error: invalid --host='0.0.0.0'")
    assert "--auth-file" in out.err and "serving on" not in out.out


def test_app_with_share_and_no_auth_refuses_to_start(capsys):
    assert main(["app", "--backend", "fake", "--lazy", "--share", "--port", str(free_port())]) == 2
    assert "public link needs a password" in capsys.readouterr().err


def test_app_passes_the_auth_file_and_queue_size_to_the_server(tmp_path, monkeypatch, capsys):
    pytest.importorskip("gradio")
    import aigve.webui.app as app_mod

    users = tmp_path / "users"
    users.write_text("ann:s3cret:with-colon\nbob:hunter2\n")
    users.chmod(0o600)
    seen = {}

    class Served:
        def block_thread(self):
            pass

        def close(self):
            pass

    def fake_launch(service, **kw):
        seen.update(kw, service=service)
        return Served(), "http://0.0.0.0:1/"

    monkeypatch.setattr(app_mod, "launch", fake_launch)
    assert main(["app", "--backend", "fake", "--lazy", "--host", "0.0.0.0", "--port", str(free_port()),
                 "--auth-file", str(users), "--queue-size", "5", "--concurrency", "2"]) == 0
    assert seen["auth"] == USERS and seen["host"] == "0.0.0.0"
    assert (seen["service"].limits.queue_size, seen["service"].limits.concurrency) == (5, 2)
    assert "log in as one of the 2 user(s)" in capsys.readouterr().out


def test_queue_size_defaults_and_validation():
    assert build_parser().parse_args(["app"]).queue_size == Limits().queue_size == 64
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ConfigError, match="queue_size"):
            Limits(queue_size=bad)


# ---------------------------------------------------------------- a served app

def _serve(tmp_path, *, limits, auth=None, delay_s=0.0):
    from aigve.webui import ServiceConfig, WebService
    from aigve.webui.app import launch

    service = WebService(ServiceConfig(backend="fake", backend_options={"delay_s": delay_s},
                                       work_dir=str(tmp_path / "work"), limits=limits))
    demo, url = launch(service, host="127.0.0.1", port=free_port(), block=False, quiet=True, auth=auth)
    return demo, url


def test_with_auth_nothing_is_served_without_a_login(tmp_path, shared_videos):
    pytest.importorskip("gradio")
    import httpx
    from gradio_client import Client, handle_file

    demo, url = _serve(tmp_path, limits=Limits(max_duration_s=30), auth=USERS)
    try:
        assert httpx.get(f"{url}config", timeout=30).status_code == 401
        assert httpx.get(f"{url}gradio_api/info", timeout=30).status_code == 401
        with open(shared_videos / CLIP, "rb") as fh:
            up = httpx.post(f"{url}gradio_api/upload", files={"files": (CLIP, fh, "video/mp4")}, timeout=30)
        assert up.status_code == 401
        assert httpx.post(f"{url}login", data={"username": "ann", "password": "wrong"}, timeout=30).status_code == 400
        with pytest.raises(Exception):  # noqa: B017 - gradio_client's own error for a refused login
            Client(url, verbose=False, auth=("ann", "wrong"))
        client = Client(url, verbose=False, auth=USERS[0])
        rec = client.predict(handle_file(str(shared_videos / CLIP)), "a beach", api_name="/evaluate")
        assert rec["status"] == "ok" and rec["video"] == CLIP
    finally:
        demo.close()


def test_twenty_concurrent_calls_all_succeed_with_the_default_queue(tmp_path, shared_videos):
    pytest.importorskip("gradio")
    from gradio_client import Client, handle_file

    demo, url = _serve(tmp_path, limits=Limits(max_duration_s=30), delay_s=0.05)  # default concurrency and queue
    try:
        client = Client(url, verbose=False)
        results, errors = [], []

        def call(i):
            try:
                results.append(client.predict(handle_file(str(shared_videos / CLIP)), f"prompt {i}",
                                              api_name="/evaluate"))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and len(results) == 20
        assert sorted(r["prompt"] for r in results) == sorted(f"prompt {i}" for i in range(20))
    finally:
        demo.close()


def test_a_small_queue_refuses_the_overflow(tmp_path, shared_videos):
    pytest.importorskip("gradio")
    from gradio_client import Client, handle_file

    demo, url = _serve(tmp_path, limits=Limits(max_duration_s=30, queue_size=1), delay_s=0.5)
    try:
        client = Client(url, verbose=False)
        errors, done = [], []

        def call():
            try:
                done.append(client.predict(handle_file(str(shared_videos / CLIP)), "x", api_name="/evaluate"))
            except Exception as exc:  # noqa: BLE001 - counted below
                errors.append(str(exc))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert done and errors and all("queue is full" in e.lower() for e in errors), errors
    finally:
        demo.close()


# ---------------------------------------------------------------- SIGTERM

def test_sigterm_stops_the_server_and_removes_its_scratch_folder(tmp_path):
    pytest.importorskip("gradio")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp_path / "gr"),
           "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aigve.cli", "app", "--backend", "fake", "--lazy",
                             "--port", str(free_port())], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "serving on" not in line and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
        assert "serving on" in line, proc.stderr.read() if proc.poll() is not None else "no 'serving on' line"
        assert len(list(tmp.glob("aigve-webui-*"))) == 1  # the server's scratch folder exists while it runs
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err
    assert list(tmp.glob("aigve-webui-*")) == []
