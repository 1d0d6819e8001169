import pytest

from aigve.errors import UnknownNameError
from aigve.registry import BACKENDS, Registry


def test_lazy_lookup_and_names():
    reg = Registry("thing")
    reg.register("json", "json:dumps")
    import json

    assert reg.get("json") is json.dumps
    assert reg.names() == ["json"] and "json" in reg


def test_unknown_name_did_you_mean_and_list():
    with pytest.raises(UnknownNameError) as err:
        BACKENDS.get("macz")
    msg = str(err.value)
    assert "did you mean 'macs'" in msg.lower() and "fake" in msg and "signals" in msg


def test_import_aigve_stays_light():
    import subprocess
    import sys

    code = "import sys, aigve; aigve.ASPECT_KEYS; print(any(m in sys.modules for m in ('torch','transformers','gradio','cv2')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
