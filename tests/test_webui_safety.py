"""Guards of the web UI without a server: limits, path resolution, zip-slip and zip bombs, video checks."""

import os
import socket
import stat
import zipfile

import pytest
from conftest import free_port

from aigve.errors import ConfigError
from aigve.webui.safety import (
    MAX_PROMPT_CHARS,
    Limits,
    PortInUse,
    RequestRefused,
    check_port,
    check_prompt,
    check_video_file,
    existing_dirs,
    extract_zip,
    resolve_inside,
    scrub,
)

CLIP = "lavie_beach_00.mp4"


def _zip(path, members: dict, *, symlinks: dict | None = None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.mark.parametrize("field,value", [("max_upload_mb", 0), ("concurrency", 0), ("concurrency", 1.5),
                                         ("max_duration_s", -1), ("max_zip_entries", True)])
def test_limits_reject_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        Limits(**{field: value})


def test_limits_upload_bytes():
    assert Limits(max_upload_mb=1.5).max_upload_bytes == 1572864


def test_resolve_inside_accepts_children_and_refuses_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.mp4").write_bytes(b"x")
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    (root / "link_out").symlink_to(outside)
    (root / "link_in").symlink_to(root / "sub" / "a.mp4")
    assert resolve_inside(root / "sub" / "a.mp4", [root]) == (root / "sub" / "a.mp4").resolve()
    assert resolve_inside(root / "link_in", [root]) == (root / "sub" / "a.mp4").resolve()
    with pytest.raises(RequestRefused, match="outside"):
        resolve_inside(root / "link_out", [root])  # symlink resolved before the check
    with pytest.raises(RequestRefused, match=r"'\.\.' is not allowed"):
        resolve_inside(f"{root}/sub/../sub/a.mp4", [root])  # refused even though it stays inside
    with pytest.raises(RequestRefused, match="outside"):
        resolve_inside(outside, [root])
    with pytest.raises(RequestRefused, match="does not exist"):
        resolve_inside(root / "nope", [root])
    with pytest.raises(RequestRefused, match="invalid"):
        resolve_inside("a\x00b", [root])


def test_resolve_inside_is_not_fooled_by_a_shared_prefix(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data-private").mkdir()
    with pytest.raises(RequestRefused, match="outside"):
        resolve_inside(tmp_path / "data-private", [tmp_path / "data"])


def test_extract_zip_writes_members(tmp_path):
    src = _zip(tmp_path / "ok.zip", {"clips/a.mp4": b"1" * 10, "clips/manifest.csv": "video,prompt\n",
                                     "__MACOSX/clips/._a.mp4": b"junk"})
    files = extract_zip(src, tmp_path / "out", Limits())
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == ["clips/a.mp4", "clips/manifest.csv"]
    assert (tmp_path / "out" / "clips" / "a.mp4").read_bytes() == b"1" * 10
    assert not (tmp_path / "out" / "__MACOSX").exists()


@pytest.mark.parametrize("name,problem", [("../evil.txt", r"'\.\.' in path"), ("a/../../evil.txt", r"'\.\.' in path"),
                                          ("/tmp/evil.txt", "absolute path"), ("C:/evil.txt", "absolute path"),
                                          ("..\\evil.txt", r"'\.\.' in path")])
def test_extract_zip_refuses_zip_slip(tmp_path, name, problem):
    src = _zip(tmp_path / "slip.zip", {"good.mp4": b"1", name: b"pwned"})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(RequestRefused, match=problem):
        extract_zip(src, dest, Limits())
    assert not dest.exists()  # nothing left behind, not even the good member
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_extract_zip_refuses_symlink_members(tmp_path):
    src = _zip(tmp_path / "link.zip", {"a.mp4": b"1"}, symlinks={"passwd": "/etc/passwd"})
    with pytest.raises(RequestRefused, match="symbolic link"):
        extract_zip(src, tmp_path / "out", Limits())


def test_extract_zip_refuses_bombs_and_oversize(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.mp4": bytes(8 * 1024 * 1024)})  # 8 MiB -> ~8 KiB
    assert os.path.getsize(bomb) < 100_000
    with pytest.raises(RequestRefused, match="zip bomb"):
        extract_zip(bomb, tmp_path / "o1", Limits(max_zip_ratio=100))
    big = _zip(tmp_path / "big.zip", {"a.bin": os.urandom(700_000), "b.bin": os.urandom(700_000)})
    with pytest.raises(RequestRefused, match="more than 1 MB"):
        extract_zip(big, tmp_path / "o2", Limits(max_unzipped_mb=1))
    many = _zip(tmp_path / "many.zip", {f"{i}.txt": b"x" for i in range(12)})
    with pytest.raises(RequestRefused, match="12 entries; at most 10"):
        extract_zip(many, tmp_path / "o3", Limits(max_zip_entries=10))
    assert not any((tmp_path / d).exists() for d in ("o1", "o2", "o3"))


def test_extract_zip_refuses_non_zip(tmp_path):
    fake = tmp_path / "videos.zip"
    fake.write_bytes(b"not a zip at all")
    with pytest.raises(RequestRefused, match="videos.zip: not a readable zip"):
        extract_zip(fake, tmp_path / "out", Limits())


def test_check_video_file_accepts_a_clip(shared_videos):
    info = check_video_file(shared_videos / CLIP, Limits())
    assert info.duration_s == pytest.approx(2.0, abs=0.2) and info.width == 512


def test_check_video_file_refusals(shared_videos, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(RequestRefused, match=r"notes.txt: not a video file type \(\.txt\)"):
        check_video_file(text, Limits())
    disguised = tmp_path / "clip.mp4"
    disguised.write_text("this is text pretending to be a video")
    with pytest.raises(RequestRefused, match="clip.mp4: not a readable video") as exc:
        check_video_file(disguised, Limits())
    assert str(tmp_path) not in str(exc.value)  # server layout is not leaked
    with pytest.raises(RequestRefused, match=r"2.0 s long; this server scores videos up to 1 s"):
        check_video_file(shared_videos / CLIP, Limits(max_duration_s=1))
    with pytest.raises(RequestRefused, match="over this server's 0.1 MB limit"):
        check_video_file(shared_videos / CLIP, Limits(max_upload_mb=0.1))
    with pytest.raises(RequestRefused, match="mine.mp4"):
        check_video_file(tmp_path / "gone.mp4", Limits(), name="mine.mp4")


def test_check_prompt():
    assert check_prompt("  a cat  ") == "a cat" and check_prompt(None) == ""
    with pytest.raises(RequestRefused, match=f"at most {MAX_PROMPT_CHARS}"):
        check_prompt("x" * (MAX_PROMPT_CHARS + 1))


def test_scrub_and_existing_dirs(tmp_path):
    assert scrub(f"{tmp_path}/x/clip.mp4: broken", tmp_path / "x" / "clip.mp4") == "clip.mp4: broken"
    assert existing_dirs([tmp_path, str(tmp_path)]) == [tmp_path.resolve()]
    with pytest.raises(ConfigError, match="allowed_dirs"):
        existing_dirs([tmp_path / "missing"])


def test_extract_zip_refuses_a_header_that_understates_sizes(tmp_path, monkeypatch):
    """Declared sizes pass the budget check, but the real bytes must not get out unnoticed."""
    src = _zip(tmp_path / "a.zip", {"a.bin": os.urandom(300_000)})
    real_infolist = zipfile.ZipFile.infolist

    def lying_infolist(self):
        infos = real_infolist(self)
        for info in infos:
            info.file_size = 10
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    with pytest.raises(RequestRefused, match="a.zip"):
        extract_zip(src, tmp_path / "out", Limits(max_unzipped_mb=0.1))
    assert not (tmp_path / "out").exists()


def test_check_port_reports_what_is_wrong(busy_port):
    with pytest.raises(PortInUse) as exc:
        check_port("127.0.0.1", busy_port)
    assert isinstance(exc.value, ConfigError) and exc.value.field == "port"
    check_port("127.0.0.1", free_port())  # a free port passes
    with pytest.raises(ConfigError, match="invalid host='192.0.2.1': not an address of this machine"):
        check_port("192.0.2.1", free_port())  # TEST-NET-1: never assigned to a machine


@pytest.mark.parametrize("port", [0, -1, 70000])
def test_check_port_refuses_numbers_that_are_not_ports(port):
    with pytest.raises(ConfigError, match=f"invalid port={port}: must be a TCP port from 1 to 65535"):
        check_port("127.0.0.1", port)


def test_check_port_names_an_unknown_host(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # no DNS lookup in tests
    with pytest.raises(ConfigError, match="invalid host='nowhere': unknown host name"):
        check_port("nowhere", 7860)
