"""The two doors to the web UI: ``aigve app`` and ``python app.py`` (server start replaced by a stub)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

from aigve.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def test_app_defaults_are_safe():
    args = build_parser().parse_args(["app"])
    assert args.host == "127.0.0.1" and args.share is False and args.allowed_dir == []
    assert args.concurrency == 1 and args.max_upload_mb > 0 and args.max_duration_s > 0


def test_config_from_args_maps_every_flag(tmp_path):
    from aigve.commands.app import config_from_args

    args = build_parser().parse_args([
        "app", "--backend", "macs", "--model", "some/ckpt", "--adapter", "lora", "--dtype", "bfloat16",
        "--allowed-dir", str(tmp_path), "--allowed-dir", str(tmp_path / "b"), "--max-upload-mb", "12",
        "--max-duration-s", "30", "--concurrency", "2", "--queue-size", "9", "--max-batch-videos", "7", "--offer-backend", "signals",
        "--offer-model", "other/ckpt", "--max-frames", "16"])
    cfg = config_from_args(args)
    assert (cfg.backend, cfg.model, cfg.adapter) == ("macs", "some/ckpt", "lora")
    assert cfg.backend_options == {"dtype": "bfloat16"} and cfg.sampling == {"max_frames": 16}
    assert cfg.allowed_dirs == (str(tmp_path), str(tmp_path / "b"))
    assert cfg.backends == ("signals",) and cfg.models == ("other/ckpt",)
    lim = cfg.limits
    assert (lim.max_upload_mb, lim.max_duration_s, lim.concurrency, lim.queue_size, lim.max_batch_videos) == \
        (12, 30, 2, 9, 7)


def test_aigve_app_builds_the_service_and_launches(monkeypatch, shared_videos, capsys):
    pytest.importorskip("gradio")
    import aigve.webui.app as app_mod

    seen, port = {}, free_port()

    class Served:
        def block_thread(self):
            seen["blocked"] = True

        def close(self):
            seen["closed"] = True

    def fake_launch(service, **kw):
        seen.update(kw, service=service, printed=capsys.readouterr().out, loaded=dict(service._evaluators))
        return Served(), f"http://127.0.0.1:{port}/"

    monkeypatch.setattr(app_mod, "launch", fake_launch)
    code = main(["app", "--backend", "fake", "--offer-backend", "signals", "--allowed-dir", str(shared_videos),
                 "--host", "127.0.0.1", "--port", str(port), "--concurrency", "2"])
    assert code == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == port and seen["share"] is False
    assert "serving on" not in seen["printed"]  # not claimed before the server is up
    assert f"serving on http://127.0.0.1:{port}/" in capsys.readouterr().out and seen["blocked"] and seen["closed"]
    service = seen["service"]
    assert service.backend_choices() == ["fake", "signals"] and service.limits.concurrency == 2
    assert seen["loaded"]  # loaded at start (no --lazy), so the first user does not wait
    assert not service._evaluators  # and dropped when the server stopped


def test_a_taken_port_is_a_one_line_usage_error(busy_port, capsys):
    assert main(["app", "--backend", "fake", "--lazy", "--port", str(busy_port)]) == 2
    out = capsys.readouterr()
    assert out.err == f"aigve app: error: port {busy_port} is in use; choose another --port\n"
    assert "serving on" not in out.out


def test_a_port_taken_while_the_model_loads_is_the_same_error(busy_port, monkeypatch, capsys):
    pytest.importorskip("gradio")
    from aigve.webui import safety

    monkeypatch.setattr(safety, "check_port", lambda host, port: None)  # as if the port was taken after the check
    assert main(["app", "--backend", "fake", "--lazy", "--port", str(busy_port)]) == 2
    out = capsys.readouterr()
    assert out.err.endswith(f"aigve app: error: port {busy_port} is in use; choose another --port\n")
    assert "Traceback" not in out.err and "serving on" not in out.out


def test_bad_allowed_dir_is_a_usage_error(tmp_path, capsys):
    assert main(["app", "--backend", "fake", "--lazy", "--allowed-dir", str(tmp_path / "missing")]) == 2
    assert "--allowed-dir" in capsys.readouterr().err


def test_root_app_py_is_the_same_door():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GRADIO_ANALYTICS_ENABLED", None)
    out = subprocess.run([sys.executable, str(REPO / "app.py"), "--help"], capture_output=True, text=True,
                         env=env, cwd=REPO, timeout=60)
    assert out.returncode == 0 and "--allowed-dir" in out.stdout and "--max-upload-mb" in out.stdout


def test_importing_the_webui_turns_gradio_analytics_off():
    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    code = "import os, sys, aigve.webui; print(os.environ['GRADIO_ANALYTICS_ENABLED'], 'gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert out.stdout.split() == ["False", "False"]  # set, and gradio itself not imported by the package
