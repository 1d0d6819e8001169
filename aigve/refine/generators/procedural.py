"""An offline text-to-video generator for tests and demos: draws what :func:`parse_scene` reads from the prompt.

"a red ball bouncing on a wooden floor" renders a red disc bouncing over a brown, grained floor in front of an
indoor wall. Artefacts (flicker, jitter, blur, noise) and stillness follow the prompt's wording (see
:mod:`aigve.refine.generators.scene`), so a refinement loop has something real to fix and a frame-statistics
evaluator has something real to measure. The output is a deterministic function of (prompt, seed, size).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aigve.errors import ConfigError
from aigve.refine.generators.scene import Scene, SceneObject, parse_scene
from aigve.video_writer import write_mp4

SKIES = {"day": ((120, 170, 235), (200, 225, 245)), "night": ((10, 15, 45), (30, 40, 80)),
         "sunset": ((250, 140, 60), (120, 70, 140)), "indoor": ((225, 210, 185), (205, 190, 165))}
FLOOR_TOP = 0.68  # fraction of the height where a surface starts


def _ellipse(xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of an axis-aligned ellipse (1 px soft edge)."""
    d = np.sqrt(((xx - cx) / max(rx, 0.5)) ** 2 + ((yy - cy) / max(ry, 0.5)) ** 2)
    return np.clip((1.0 - d) * min(rx, ry) + 0.5, 0.0, 1.0)


def _polygon(xx: np.ndarray, yy: np.ndarray, points: list[tuple[float, float]]) -> np.ndarray:
    """Anti-aliased coverage of a convex polygon given counter-clockwise or clockwise ``points`` (px)."""
    pts = np.asarray(points, dtype=np.float32)
    sign = 1.0 if np.cross(pts[1] - pts[0], pts[2] - pts[1]) > 0 else -1.0
    dist = np.full(xx.shape, np.inf, dtype=np.float32)
    for (x0, y0), (x1, y1) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        ex, ey = x1 - x0, y1 - y0
        length = math.hypot(ex, ey) or 1.0
        dist = np.minimum(dist, sign * (ex * (yy - y0) - ey * (xx - x0)) / length)
    return np.clip(dist + 0.5, 0.0, 1.0)


def _rotated_rect(cx: float, cy: float, w: float, h: float, angle: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    corners = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners]


def _shade(colour: tuple[int, int, int], factor: float) -> np.ndarray:
    return np.clip(np.asarray(colour, dtype=np.float32) * factor, 0, 255)


def draw_object(img: np.ndarray, obj: SceneObject, cx: float, cy: float, r: float, angle: float) -> None:
    """Paint one object centred at (cx, cy) px with size ``r`` px (half-height) into float RGB ``img``."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    col = obj.colour
    if obj.shape == "circle":
        parts.append((_ellipse(xx, yy, cx, cy, r, r), _shade(col, 1.0)))
        hx, hy = cx + 0.6 * r * math.cos(angle), cy + 0.6 * r * math.sin(angle)  # marker shows spin
        parts.append((_ellipse(xx, yy, hx, hy, 0.25 * r, 0.25 * r), _shade(col, 1.35)))
    elif obj.shape == "square":
        parts.append((_polygon(xx, yy, _rotated_rect(cx, cy, 2 * r, 2 * r, angle)), _shade(col, 1.0)))
    elif obj.shape == "car":
        parts.append((_polygon(xx, yy, _rotated_rect(cx, cy, 3.2 * r, 1.2 * r, angle)), _shade(col, 1.0)))
        parts.append((_polygon(xx, yy, _rotated_rect(cx, cy - r, 1.6 * r, 0.9 * r, angle)), _shade(col, 0.8)))
        for dx in (-1.0, 1.0):
            parts.append((_ellipse(xx, yy, cx + dx * r, cy + 0.6 * r, 0.45 * r, 0.45 * r), _shade((30, 30, 30), 1)))
    elif obj.shape == "tree":
        parts.append((_polygon(xx, yy, _rotated_rect(cx, cy + 0.7 * r, 0.3 * r, 0.8 * r, 0)), _shade((100, 60, 30), 1)))
        tri = [(cx, cy - r), (cx + 0.7 * r, cy + 0.4 * r), (cx - 0.7 * r, cy + 0.4 * r)]
        parts.append((_polygon(xx, yy, tri), _shade(col, 1.0)))
    elif obj.shape == "house":
        parts.append((_polygon(xx, yy, _rotated_rect(cx, cy + 0.3 * r, 1.4 * r, 1.2 * r, 0)), _shade(col, 1.0)))
        roof = [(cx, cy - r), (cx + 0.85 * r, cy - 0.3 * r), (cx - 0.85 * r, cy - 0.3 * r)]
        parts.append((_polygon(xx, yy, roof), _shade((150, 50, 40), 1.0)))
    elif obj.shape == "animal":
        parts.append((_ellipse(xx, yy, cx, cy, 1.5 * r, 0.9 * r), _shade(col, 1.0)))
        parts.append((_ellipse(xx, yy, cx + 1.5 * r * math.cos(angle), cy - 0.9 * r, 0.6 * r, 0.6 * r),
                      _shade(col, 0.85)))
    elif obj.shape == "person":
        parts.append((_polygon(xx, yy, _rotated_rect(cx, cy + 0.25 * r, 0.7 * r, 1.4 * r, angle)), _shade((60, 90, 160), 1)))
        parts.append((_ellipse(xx, yy, cx, cy - 0.75 * r, 0.35 * r, 0.35 * r), _shade(col, 1.0)))
    elif obj.shape == "bird":
        flap = 0.6 + 0.4 * math.sin(4 * angle)
        parts.append((_ellipse(xx, yy, cx - 0.8 * r, cy - 0.3 * r * flap, 0.9 * r, 0.3 * r), _shade(col, 1.0)))
        parts.append((_ellipse(xx, yy, cx + 0.8 * r, cy - 0.3 * r * flap, 0.9 * r, 0.3 * r), _shade(col, 1.0)))
        parts.append((_ellipse(xx, yy, cx, cy, 0.4 * r, 0.4 * r), _shade(col, 0.8)))
    else:  # fish
        parts.append((_ellipse(xx, yy, cx, cy, 1.4 * r, 0.7 * r), _shade(col, 1.0)))
        tail = [(cx - 1.2 * r, cy), (cx - 2.0 * r, cy - 0.6 * r), (cx - 2.0 * r, cy + 0.6 * r)]
        parts.append((_polygon(xx, yy, tail), _shade(col, 0.85)))
    for alpha, colour in parts:
        img *= 1.0 - alpha[..., None]
        img += alpha[..., None] * colour


def _background(scene: Scene, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Sky/wall gradient plus textured surface, 2x the frame width so a camera pan can scroll through it."""
    wide = 2 * width
    top, bottom = (np.asarray(c, dtype=np.float32) for c in SKIES[scene.sky])
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    bg = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (height, wide, 3)).copy()
    if scene.sky == "night":
        ys, xs = rng.integers(0, int(height * FLOOR_TOP), 40), rng.integers(0, wide, 40)
        bg[ys, xs] = 235.0
    if scene.sky == "indoor":  # plaster-like texture (random, not periodic: periodic patterns fool optical flow)
        plaster = cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, wide)).astype(np.float32), (0, 0), 2.5)
        bg *= 1.0 + 0.25 * plaster[..., None]
    if scene.surface is None:
        return bg
    kind, colour = scene.surface
    y0 = int(height * FLOOR_TOP)
    fh = height - y0
    yy, xx = np.mgrid[0:fh, 0:wide].astype(np.float32)
    speckle = cv2.GaussianBlur(rng.normal(0.0, 1.0, (fh, wide)).astype(np.float32), (0, 0), 1.2)
    # Periods avoid multiples of 8 px so texture edges do not line up with the codec's block grid (a
    # blocking measure would read them as compression artefacts).
    if kind == "wood":  # grain along the boards plus dark plank seams every 29 px
        pattern = 0.10 * np.sin(yy * 1.3 + 2.0 * np.sin(xx / 11.0)) + 0.05 * speckle
        pattern -= 0.25 * np.clip(1.5 - np.abs(np.mod(xx + 5.0 + 9.0 * (yy // 7), 29.0) - 14.5) + 13.0, 0, 1)
    elif kind == "water":
        pattern = 0.12 * np.sin(xx / 5.0 + 3.0 * np.sin(yy / 4.0)) + 0.04 * speckle
    elif kind == "tile":
        pattern = -0.2 * ((np.mod(xx + 3.0, 23.0) < 1.5) | (np.mod(yy + 2.0, 11.0) < 1.5)) + 0.03 * speckle
    else:  # grass, sand, snow, asphalt, carpet, dirt: granular
        pattern = 0.12 * speckle
    floor = np.asarray(colour, dtype=np.float32) * (1.0 + pattern[..., None])
    # Blend the wall/floor seam over a few rows: a hard straight horizon would also read as a codec block edge.
    blend = np.clip(np.arange(fh, dtype=np.float32) / 3.0, 0.0, 1.0)[:, None, None]
    bg[y0:] = bg[y0:] * (1.0 - blend) + floor * blend
    return bg


def _trajectory(obj: SceneObject, t: float, base_x: float, base_y: float, r: float, scene: Scene,
                width: int, height: int) -> tuple[float, float, float]:
    """(x, y, angle) of an object at ``t`` seconds; positions in px."""
    s = scene.motion_scale
    floor_y = height * FLOOR_TOP if scene.surface else height * 0.9
    if obj.motion == "none" or s == 0:
        return base_x, base_y, 0.0
    if obj.motion == "bounce":
        period = 1.3 / s ** 0.5
        lift = height * 0.38 * min(1.0, 0.6 + 0.4 * s)
        drift = 0.12 * width * (s - 1.0) * math.sin(2 * math.pi * t / 4.0) if s > 1 else 0.0
        return base_x + drift, floor_y - r - lift * abs(math.sin(math.pi * t / period)), 0.0
    if obj.motion in ("travel", "fly"):
        span = width * 0.6
        phase = (t * 0.22 * s * width / span) % 2.0
        x = base_x - span / 2 + span * (phase if phase < 1 else 2 - phase)
        y = base_y + (0.06 * height * math.sin(2 * math.pi * t / 1.5) if obj.motion == "fly" else 0.0)
        return x, y, t * s * 2.0
    if obj.motion == "spin":
        return base_x, base_y, t * s * 2 * math.pi * 0.5
    if obj.motion == "fall":
        y = min(height * 0.15 + 0.5 * 0.9 * height * (t * s) ** 2, floor_y - r)
        return base_x, y, 0.0
    return base_x + 0.06 * width * s * math.sin(2 * math.pi * t), base_y, 0.3 * math.sin(2 * math.pi * t)


def render(scene: Scene, *, width: int, height: int, fps: float, seconds: float, seed: int) -> np.ndarray:
    """Frames of ``scene`` as uint8 (T, H, W, 3) RGB, T = round(fps * seconds)."""
    rng = np.random.default_rng(seed)
    bg = _background(scene, height, width, rng)
    n = max(2, round(fps * seconds))
    floor_y = height * FLOOR_TOP if scene.surface else height * 0.9
    count = len(scene.objects)
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        t = i / fps
        offset = int(scene.pan_speed * width * t) % width
        img = bg[:, offset: offset + width].copy()
        for k, obj in enumerate(scene.objects):
            r = obj.size * height
            base_x = width * (k + 1) / (count + 1)
            base_y = height * 0.3 if obj.motion == "fly" else floor_y - r
            if obj.shape == "fish" and scene.surface and scene.surface[0] == "water":
                base_y = height * (1.0 + FLOOR_TOP) / 2  # a fish swims in the water, not above it
            x, y, angle = _trajectory(obj, t, base_x, base_y, r, scene, width, height)
            if obj.motion in ("travel", "fly") and obj.shape != "circle":
                angle = 0.0  # only a rolling ball turns while it travels; cars and animals stay upright
            jx, jy, js = rng.normal(0.0, scene.jitter, 3)
            draw_object(img, obj, x + jx, y + jy, max(2.0, r + 0.5 * js), angle)
        img *= 1.0 + rng.normal(0.0, scene.flicker) + rng.normal(0.0, scene.flicker / 3, 3)
        if scene.blur > 0.3:
            img = cv2.GaussianBlur(img, (0, 0), scene.blur)
        if scene.noise > 0.5:
            img += rng.normal(0.0, scene.noise, img.shape).astype(np.float32)
        frames[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return frames


class ProceduralGenerator:
    """Offline generator: prompt -> rendered mp4 (see module doc). Sizes in px, ``seconds`` of video at ``fps``."""

    name = "procedural"

    def __init__(self, width: int = 192, height: int = 144, fps: float = 12.0, seconds: float = 4.0):
        for field, value in (("width", width), ("height", height)):
            if not isinstance(value, int) or value < 16 or value % 2:
                raise ConfigError(field, value, "must be an even integer >= 16 (pixels)")
        if fps <= 0 or seconds <= 0:
            raise ConfigError("fps/seconds", (fps, seconds), "must be positive")
        self.width, self.height, self.fps, self.seconds = width, height, float(fps), float(seconds)
        self.last_scene: Scene | None = None

    def frames(self, prompt: str, seed: int) -> np.ndarray:
        """Render without writing: uint8 (T, H, W, 3)."""
        self.last_scene = parse_scene(prompt)
        return render(self.last_scene, width=self.width, height=self.height, fps=self.fps,
                      seconds=self.seconds, seed=seed)

    def generate(self, prompt: str, seed: int, out_path: Path) -> Path:
        return write_mp4(out_path, self.frames(prompt, seed), self.fps)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name, "width": self.width, "height": self.height, "fps": self.fps,
                                "seconds": self.seconds}
        if self.last_scene is not None:
            info["scene"] = self.last_scene.to_dict()
        return info
