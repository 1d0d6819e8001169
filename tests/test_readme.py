"""The README's examples, executed: the Python API block, the quick start's scoring command, and the web UI's
gradio_client and plain-HTTP calls against a live server (the `fake` backend substituted for `macs`)."""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _block(language: str, marker: str) -> str:
    found = [b for b in _blocks(language) if marker in b]
    assert len(found) == 1, f"expected one ```{language} block containing {marker!r}, found {len(found)}"
    return found[0]


@pytest.fixture
def in_a_fresh_folder(tmp_path, monkeypatch):
    """A working folder holding only the repository's data/ (as a fresh clone has it): outputs land in tmp."""
    (tmp_path / "data").symlink_to(REPO / "data", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_python_block_is_one_the_tests_run():
    markers = ("aigve.load_evaluator", "gradio_client", "run_sanity", "SANITY_CHECKS.register")
    for block in _blocks("python"):
        assert any(m in block for m in markers), f"README python block not executed by a test:\n{block}"


def test_the_python_api_block_runs_as_written(in_a_fresh_folder):
    code = _block("python", "aigve.load_evaluator")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"[0-5] .+", lines[0])  # technical_quality score and its comment
    assert lines[1].startswith("[") and re.search(r"\] \d+\.\d+", lines[1])  # frame indices, total seconds
    assert re.fullmatch(r"lavie_beach_07 ok [0-5] None", lines[2])
    assert lines[3].startswith("missing error None ") and "missing.mp4" in lines[3]
    assert lines[4] == "4"


def test_the_sanity_block_runs_as_written(in_a_fresh_folder):
    code = _block("python", "run_sanity")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    frozen, duplicate = out.getvalue().split()
    assert frozen in ("pass", "inconclusive") and duplicate in ("pass", "inconclusive")  # 3 clips: too few to pass
    assert (in_a_fresh_folder / "runs" / "sanity" / "metrics.json").is_file()


def test_the_custom_sanity_check_block_registers_a_check_that_runs(in_a_fresh_folder, monkeypatch):
    from aigve.sanity import SANITY_CHECKS, run_sanity

    monkeypatch.setattr(SANITY_CHECKS, "_entries", dict(SANITY_CHECKS._entries))  # the README's check stays local
    exec(compile(_block("python", "SANITY_CHECKS.register"), "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    assert "upside_down" in SANITY_CHECKS
    result = run_sanity("data/samples", backend="signals", checks=["upside_down"], out="runs/sanity")
    check = result.check("upside_down")
    assert check.verdict == "not applicable"  # signals measures pixels: it scores no physics
    assert "technical_quality" in check.other_mean_delta  # but every flipped variant was scored
    assert (in_a_fresh_folder / "runs" / "sanity" / "variants" / "upside_down").is_dir()


def test_the_quick_start_scoring_command_runs(in_a_fresh_folder, capsys):
    from aigve.cli import main

    setup = next(b for b in _blocks("bash") if "pip install -e" in b and "aigve score" in b)
    commands = [c.strip() for c in setup.strip().split("&&") if c.strip().startswith("aigve ")]
    assert commands == ["aigve score data/samples --backend signals --out runs/demo --overwrite"]
    assert main(shlex.split(commands[0])[1:]) == 0
    assert (in_a_fresh_folder / "runs" / "demo" / "results.jsonl").is_file()
    assert "3 scored, 0 failed" in capsys.readouterr().out


def test_the_cpu_install_line_is_its_own_one_line_block():
    lines = [b.strip() for b in _blocks("bash") if "download.pytorch.org/whl/cpu" in b]
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].index("--index-url https://download.pytorch.org/whl/cpu") < lines[0].index('pip install -e ".[dev]"')


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory):
    pytest.importorskip("gradio")
    from aigve.webui import Limits, ServiceConfig, WebService
    from aigve.webui.app import launch

    service = WebService(ServiceConfig(backend="fake", work_dir=str(tmp_path_factory.mktemp("readme-ui")),
                                       limits=Limits(max_duration_s=30)))
    demo, url = launch(service, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    yield url.rstrip("/")
    demo.close()


def _served(text: str, url: str) -> str:
    """A README example aimed at the test server: its URL, and the fake backend in place of macs."""
    assert "http://127.0.0.1:7860" in text and '"macs"' in text.replace('\\"', '"')
    return text.replace("http://127.0.0.1:7860", url).replace('"macs"', '"fake"').replace('\\"macs\\"', '\\"fake\\"')


def test_the_gradio_client_block_works_against_the_app(fake_server, in_a_fresh_folder):
    pytest.importorskip("gradio_client")
    code = _served(_block("python", "gradio_client"), fake_server)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102 - our own README
    assert re.search(r"^ok [0-5]$", out.getvalue(), flags=re.MULTILINE), out.getvalue()


def test_the_plain_http_block_works_against_the_app(fake_server, in_a_fresh_folder):
    if not shutil.which("curl"):
        pytest.skip("curl not installed")
    script = _served(_block("bash", "gradio_api/call/evaluate"), fake_server)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env,
                          cwd=in_a_fresh_folder, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "event: complete" in proc.stdout and '"status": "ok"' in proc.stdout, proc.stdout
