"""Issue 19: decode worker processes (``workers="process"``) end with their parent, even after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil

_SCRIPT = textwrap.dedent("""
    import sys, time
    from aigve.backends.fake import FakeBackend
    from aigve.evaluator import Evaluator

    if __name__ == "__main__":
        evaluator = Evaluator(FakeBackend(), prefetch=2, workers="process")
        evaluator.start_workers()
        print("ready", flush=True)
        time.sleep(120)
""")


def test_workers_end_when_the_parent_is_killed(tmp_path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                   if "resource_tracker" not in " ".join(c.cmdline())]
        assert len(workers) >= 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, [p.pid for p in alive]
    finally:
        if proc.poll() is None:
            proc.kill()
