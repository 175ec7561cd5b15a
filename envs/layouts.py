"""Procedural layouts (NumPy, one episode at a time, from a ``numpy.random.Generator``).

Layout generation is the only per-episode Python work; it runs on reset only, so a batch of
thousands of environments steps and renders as tensors. Every function is a pure function of the
generator, which makes each episode reproducible from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def maze(rng: np.random.Generator, size: int = 7, extra_openings: float = 0.1) -> np.ndarray:
    """A random maze of ``size x size`` corridor cells (recursive backtracker, plus loops).

    Returns:
        (2 size + 1, 2 size + 1) bool, True where the grid cell is open. Corridor cells sit at odd
        indices; the border is wall.
    """
    if size < 2:
        raise ValueError(f"maze size must be >= 2, got {size}")
    g = 2 * size + 1
    open_ = np.zeros((g, g), dtype=bool)
    seen = np.zeros((size, size), dtype=bool)
    stack = [(int(rng.integers(size)), int(rng.integers(size)))]
    seen[stack[0]] = True
    open_[2 * stack[0][0] + 1, 2 * stack[0][1] + 1] = True
    while stack:
        r, c = stack[-1]
        nbrs = [
            (r + dr, c + dc)
            for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0))
            if 0 <= r + dr < size and 0 <= c + dc < size and not seen[r + dr, c + dc]
        ]
        if not nbrs:
            stack.pop()
            continue
        nr, nc = nbrs[int(rng.integers(len(nbrs)))]
        seen[nr, nc] = True
        open_[2 * nr + 1, 2 * nc + 1] = True
        open_[r + nr + 1, c + nc + 1] = True  # the wall between the two cells
        stack.append((nr, nc))
    # Knock out some inner walls between two corridor cells to create loops.
    inner = [
        (r, c)
        for r in range(1, g - 1)
        for c in range(1, g - 1)
        if not open_[r, c] and (r % 2) != (c % 2)
    ]
    for i in rng.permutation(len(inner))[: int(extra_openings * len(inner))]:
        open_[inner[i]] = True
    return open_


@dataclass
class Apartment:
    """A multi-room floor plan.

    Attributes:
        open: (G, G) bool, True where the cell is walkable floor (doors included).
        room: (G, G) int, room index per cell (-1 on walls).
        doors: list of (y, x) door cells (kept free of furniture).
        n_rooms: number of rooms.
    """

    open: np.ndarray
    room: np.ndarray
    doors: list[tuple[int, int]]
    n_rooms: int


def apartment(
    rng: np.random.Generator, size: int = 20, max_rooms: int = 6, min_room: int = 4
) -> Apartment:
    """Split a ``size x size`` interior into rooms by binary space partition; one door per wall.

    Returns:
        An :class:`Apartment` on a ``(size + 2) x (size + 2)`` grid (outer wall included).
    """
    if size < 2 * min_room + 1:
        raise ValueError(f"apartment size {size} too small for min_room {min_room}")
    g = size + 2
    open_ = np.zeros((g, g), dtype=bool)
    open_[1:-1, 1:-1] = True
    rooms = [(1, 1, g - 1, g - 1)]  # (y0, x0, y1, x1), half-open
    doors: list[tuple[int, int]] = []
    while len(rooms) < max_rooms:
        splittable = [
            i
            for i, (y0, x0, y1, x1) in enumerate(rooms)
            if max(y1 - y0, x1 - x0) >= 2 * min_room + 1
        ]
        if not splittable:
            break
        # Split the largest room first, so rooms end up of similar size.
        i = max(splittable, key=lambda j: (rooms[j][2] - rooms[j][0]) * (rooms[j][3] - rooms[j][1]))
        y0, x0, y1, x1 = rooms.pop(i)
        vertical = (x1 - x0) > (y1 - y0) or ((x1 - x0) == (y1 - y0) and rng.random() < 0.5)
        if vertical:
            x = int(rng.integers(x0 + min_room, x1 - min_room))
            open_[y0:y1, x] = False
            door = (int(rng.integers(y0, y1 - 1)), x)
            open_[door[0] : door[0] + 2, x] = True  # doors are two cells wide
            doors += [door, (door[0] + 1, x)]
            rooms += [(y0, x0, y1, x), (y0, x + 1, y1, x1)]
        else:
            y = int(rng.integers(y0 + min_room, y1 - min_room))
            open_[y, x0:x1] = False
            door = (y, int(rng.integers(x0, x1 - 1)))
            open_[y, door[1] : door[1] + 2] = True
            doors += [door, (y, door[1] + 1)]
            rooms += [(y0, x0, y, x1), (y + 1, x0, y1, x1)]
    room = np.full((g, g), -1, dtype=np.int64)
    for k, (y0, x0, y1, x1) in enumerate(rooms):
        room[y0:y1, x0:x1] = k
    room[~open_] = -1
    for y, x in doors:  # a door belongs to the room on one side
        nbr = [room[y + dy, x + dx] for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0))]
        room[y, x] = max(nbr)
    return Apartment(open_, room, doors, len(rooms))


def reachable(open_: np.ndarray, start: tuple[int, int]) -> np.ndarray:
    """(G, G) bool: the open cells 4-connected to ``start`` (flood fill)."""
    seen = np.zeros_like(open_, dtype=bool)
    if not open_[start]:
        return seen
    stack = [start]
    seen[start] = True
    while stack:
        y, x = stack.pop()
        for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
            if open_[ny, nx] and not seen[ny, nx]:
                seen[ny, nx] = True
                stack.append((ny, nx))
    return seen


def value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1] of shape (size, size): bilinear interpolation of a random lattice."""
    lattice = rng.random((cells + 1, cells + 1))
    t = np.linspace(0, cells, size, endpoint=False)
    i = t.astype(int)
    f = t - i
    f = f * f * (3 - 2 * f)  # smoothstep
    a = lattice[i][:, i] * (1 - f)[None, :] + lattice[i][:, i + 1] * f[None, :]
    b = lattice[i + 1][:, i] * (1 - f)[None, :] + lattice[i + 1][:, i + 1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]


def terrain(rng: np.random.Generator, size: int = 64, max_height: int = 6) -> np.ndarray:
    """Integer block heights (size, size) in [0, max_height] from fractal value noise."""
    n = 0.6 * value_noise(rng, size, max(2, size // 16)) + 0.3 * value_noise(rng, size, size // 8)
    n = n + 0.1 * value_noise(rng, size, size // 4)
    n = (n - n.min()) / max(n.max() - n.min(), 1e-6)
    return np.round(n * max_height).astype(np.int64)
