"""Limits and guards for a scoring server that strangers can reach: sizes, durations, paths, zip files.

Everything here is plain Python (no gradio), so it is tested directly. A refusal raises
:class:`RequestRefused`, whose message is shown to the user as is: it names the input (by the name the
user gave it, never a server path) and what to do instead.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import shutil
import socket
import stat
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from aigve.core import validate
from aigve.errors import AigveError, ConfigError
from aigve.media import VideoInfo

log = logging.getLogger(__name__)

MB = 1024 * 1024
#: Longest prompt accepted (characters); the judge's prompts are a sentence or two.
MAX_PROMPT_CHARS = 2000
#: Zip members smaller than this are never called bombs (tiny text files compress extremely well).
_RATIO_FLOOR_BYTES = 1 * MB


class RequestRefused(AigveError):
    """The server will not serve this request. The message is user-facing: what is wrong and the fix."""


class PortInUse(ConfigError):
    """The server cannot listen on ``port``: another program (or another aigve app) holds it."""

    def __init__(self, port: int):
        self.field, self.value, self.fix = "port", port, "choose another `port`"
        AigveError.__init__(self, f"port {port} is in use; choose another `port`")


def check_port(host: str, port: int) -> None:
    """Raise PortInUse when ``host:port`` cannot be listened on because it is taken (ConfigError for an
    unknown host, or a port this user may not open). Checked before the model loads, so a busy port is
    reported in a second rather than after minutes of loading; launch checks again (another program may
    take the port in between)."""
    if not 0 < int(port) <= 65535:
        raise ConfigError("port", port, "must be a TCP port from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError("host", host, f"unknown host name ({exc})") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: ignore TIME_WAIT leftovers
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(port) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError("host", host, "not an address of this machine; use 127.0.0.1 (this machine "
                                                  "only) or 0.0.0.0 (every interface)") from None
            raise ConfigError("port", port, f"cannot listen on {host}:{port} ({exc.strerror}); "
                                              "choose another port or host") from None


def is_loopback(host: str) -> bool:
    """True when ``host`` reaches this machine only: a 127.0.0.0/8 or ::1 address, or a name (``localhost``)
    whose every address is one. ``0.0.0.0``/``::`` (every interface) and unknown names are not loopback."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def read_auth_file(path: str | os.PathLike) -> list[tuple[str, str]]:
    """The ``(user, password)`` pairs of an auth file: one ``user:password`` per line (the password is
    everything after the first colon), blank lines and ``#`` comments skipped. Errors name the file and the
    line number, never a password. A file others may read is accepted with a warning (``chmod 600`` it)."""
    p = Path(path).expanduser()
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
        mode = p.stat().st_mode
    except (OSError, UnicodeError) as exc:
        raise ConfigError("auth_file", os.fspath(path), f"cannot be read ({exc.__class__.__name__}: "
                                                        f"{getattr(exc, 'strerror', None) or exc})") from None
    pairs: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        user, sep, password = text.partition(":")
        if not sep or not user.strip() or not password:
            raise ConfigError("auth_file", os.fspath(path),
                              f"line {number} is not 'user:password' (both parts non-empty)")
        if user.strip() in pairs:
            raise ConfigError("auth_file", os.fspath(path), f"line {number} repeats user {user.strip()!r}")
        pairs[user.strip()] = password
    if not pairs:
        raise ConfigError("auth_file", os.fspath(path), "holds no 'user:password' line")
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("%s can be read by other users of this machine; chmod 600 it", p)
    return list(pairs.items())


def check_exposure(host: str, share: bool, auth: Sequence[tuple[str, str]] | None) -> None:
    """Refuse to serve beyond this machine without a password: a non-loopback ``host`` or a public ``share``
    link needs ``auth`` (pairs from :func:`read_auth_file`). Raises ConfigError; loopback needs none."""
    if auth:
        return
    if share:
        raise ConfigError("share", True, "a public link needs a password: set `auth_file=FILE` "
                                         "(user:password lines)")
    if not is_loopback(host):
        raise ConfigError("host", host, "reachable from other machines, so it needs a password: set "
                                        "`auth_file=FILE` (user:password lines), or `host=127.0.0.1`")


@dataclass(frozen=True)
class Limits:
    """What one request may cost.

    ``max_upload_mb``: largest uploaded file (MiB; also gradio's ``max_file_size``). ``max_duration_s``:
    longest video (seconds, from the container). ``concurrency``: model calls running at once, shared by
    every user and tab. ``queue_size``: requests that may wait for a slot (more get "queue is full"; the
    default lets 20+ users call at once). ``max_batch_videos``: videos per batch request. ``max_unzipped_mb`` /
    ``max_zip_entries`` / ``max_zip_ratio``: zip-bomb guards (total extracted MiB, member count,
    uncompressed/compressed ratio of any member over 1 MiB).
    """

    max_upload_mb: float = 200.0
    max_duration_s: float = 600.0
    concurrency: int = 1
    queue_size: int = 64
    max_batch_videos: int = 200
    max_unzipped_mb: float = 2048.0
    max_zip_entries: int = 1000
    max_zip_ratio: float = 100.0

    def __post_init__(self) -> None:
        # finite: NaN compares false with every duration and inf never trips, so either would turn a limit off
        for name in ("max_upload_mb", "max_duration_s", "max_unzipped_mb", "max_zip_ratio"):
            validate.positive(name, getattr(self, name), high=1e7)
        for name in ("concurrency", "queue_size", "max_batch_videos", "max_zip_entries"):
            validate.positive_int(name, getattr(self, name), high=10**7)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)


def display_name(path: str | os.PathLike) -> str:
    """The name to show a user for a server-side file: its basename (gradio keeps the upload's own name)."""
    return Path(path).name


def scrub(message: str, path: str | os.PathLike) -> str:
    """Replace a server path in ``message`` by the file's display name (messages must not leak layout)."""
    full = os.fspath(path)
    return message.replace(full, display_name(full)) if full else message


def check_prompt(prompt: str | None) -> str:
    """Return the stripped prompt; refuse one longer than :data:`MAX_PROMPT_CHARS`."""
    text = (prompt or "").strip()
    if len(text) > MAX_PROMPT_CHARS:
        raise RequestRefused(f"the prompt has {len(text)} characters; at most {MAX_PROMPT_CHARS} are accepted")
    return text


def check_video_file(path: str | os.PathLike, limits: Limits, *, name: str | None = None,
                     check_size: bool = True) -> VideoInfo:
    """Accept ``path`` only if it is a video by extension *and* by probe, within the size and duration limits.

    Returns the probe's :class:`VideoInfo`. ``name`` is what the user called the file (default: basename).
    ``check_size=False`` skips the upload-size limit (files already on the server: allowed folders, zip
    members, which the zip limits bound).
    """
    from aigve.video import VIDEO_EXTENSIONS, is_video_path, probe

    p = Path(path)
    shown = name or display_name(p)
    if not is_video_path(p):
        raise RequestRefused(f"{shown}: not a video file type ({p.suffix or 'no extension'}); "
                             f"upload one of {' '.join(VIDEO_EXTENSIONS)}")
    if not p.is_file():
        raise RequestRefused(f"{shown}: file not found on the server; upload it again")
    size = p.stat().st_size
    if check_size and size > limits.max_upload_bytes:
        raise RequestRefused(f"{shown}: {size / MB:.1f} MB is over this server's {limits.max_upload_mb:g} MB limit; "
                             "upload a shorter or more compressed clip")
    try:
        info = probe(p)
    except AigveError as exc:
        raise RequestRefused(f"{shown}: not a readable video ({scrub(str(exc), p)})") from None
    duration = info.duration_s
    if duration is None and info.num_frames:
        duration = info.num_frames / (info.fps or 24.0)  # no duration in the header: estimate from frames
    if duration is not None and duration > limits.max_duration_s:
        raise RequestRefused(f"{shown}: {duration:.1f} s long; this server scores videos up to "
                             f"{limits.max_duration_s:g} s; trim the clip")
    return info


def resolve_inside(path: str | os.PathLike, roots: Sequence[str | os.PathLike], *, what: str = "path",
                   shown: str | None = None) -> Path:
    """Resolve ``path`` (symlinks followed) and return it only if it lies inside one of ``roots``.

    ``..`` components are refused outright, even when they would resolve back inside a root, so a
    request cannot probe the server's layout. Errors name the path as given (or ``shown``), never
    its resolution.
    """
    raw = os.fspath(path)
    if not raw or "\x00" in raw:
        raise RequestRefused(f"empty or invalid {what}")
    label = f"{what} {shown or raw!r}"
    if ".." in PurePosixPath(raw).parts or ".." in PureWindowsPath(raw).parts:
        raise RequestRefused(f"{label}: '..' is not allowed; choose one of the offered folders")
    try:
        resolved = Path(raw).resolve(strict=True)
    except (OSError, RuntimeError):
        raise RequestRefused(f"{label} does not exist on the server") from None
    for root in roots:
        if resolved.is_relative_to(Path(root).resolve()):
            return resolved
    raise RequestRefused(f"{label} is outside the folders this server allows")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member may not be extracted (zip-slip, links, devices), or None."""
    name = info.filename
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "'..' in path"
    file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver stored permission bits only
    if file_type and file_type not in (stat.S_IFREG, stat.S_IFDIR):
        return "symbolic link or special file"
    return None


def extract_zip(src: str | os.PathLike, dest: str | os.PathLike, limits: Limits, *, name: str | None = None) -> list[Path]:
    """Extract ``src`` into the empty folder ``dest`` with zip-slip and zip-bomb guards; return the files.

    Refused (nothing left behind): members with absolute paths, ``..``, links or devices; more than
    ``max_zip_entries`` members; a declared or actual total over ``max_unzipped_mb``; a member over 1 MiB
    whose compression ratio exceeds ``max_zip_ratio``. ``__MACOSX/`` metadata is skipped. Sizes are
    counted while copying, so a header that understates them does not help.
    """
    shown = name or display_name(src)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    budget = int(limits.max_unzipped_mb * MB)
    try:
        zf = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError) as exc:
        raise RequestRefused(f"{shown}: not a readable zip file ({exc})") from None
    written: list[Path] = []
    try:
        with zf:
            members = [m for m in zf.infolist() if not m.filename.startswith("__MACOSX/")]
            if len(members) > limits.max_zip_entries:
                raise RequestRefused(f"{shown}: {len(members)} entries; at most {limits.max_zip_entries} are accepted")
            if sum(m.file_size for m in members) > budget:
                raise RequestRefused(f"{shown}: unpacks to more than {limits.max_unzipped_mb:g} MB; send fewer videos")
            for m in members:
                problem = _member_problem(m)
                if problem:
                    raise RequestRefused(f"{shown}: member {m.filename!r} refused ({problem})")
                if m.file_size > _RATIO_FLOOR_BYTES and m.file_size > limits.max_zip_ratio * max(m.compress_size, 1):
                    raise RequestRefused(f"{shown}: member {m.filename!r} is compressed suspiciously well "
                                         "(possible zip bomb); refused")
            for m in members:
                target = (dest / m.filename).resolve()
                if not target.is_relative_to(root):  # belt and braces after _member_problem
                    raise RequestRefused(f"{shown}: member {m.filename!r} would land outside the folder")
                if m.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                budget -= _copy_member(zf, m, target, budget, shown, limits)
                written.append(target)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    log.info("%s: extracted %d files into %s", shown, len(written), dest)
    return written


def _copy_member(zf: zipfile.ZipFile, m: zipfile.ZipInfo, target: Path, budget: int, shown: str, limits: Limits) -> int:
    """Copy one member in 1 MiB chunks, stopping as soon as the running total passes the budget."""
    copied = 0
    try:
        with zf.open(m) as src, open(target, "wb") as out:
            while chunk := src.read(MB):
                copied += len(chunk)
                if copied > budget:
                    raise RequestRefused(f"{shown}: unpacks to more than {limits.max_unzipped_mb:g} MB; send fewer videos")
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        # RuntimeError: encrypted member; NotImplementedError: unsupported compression method
        raise RequestRefused(f"{shown}: member {m.filename!r} cannot be extracted ({exc})") from None
    return copied


def existing_dirs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Resolve operator-given folders; a missing one is a startup error naming it."""
    out = []
    for p in paths:
        resolved = Path(p).expanduser().resolve()
        if not resolved.is_dir():
            raise ConfigError("allowed_dirs", os.fspath(p), "must be an existing folder")
        if resolved not in out:
            out.append(resolved)
    return out
