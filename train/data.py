"""Training data: folders of colour photos, cropped at random.

Validation is either whole folders held out (``--val-data``: photos from
sources the network never trains on, the honest measure) or a seeded split by
file. A source is a photo's first sub-folder below the ``--data`` folder it was
found in; sources are drawn in proportion to (number of photos) ** balance, so
that one large source (463 food shots of one package) does not set the
network's idea of a typical colour.

Each sample is a random square crop (random scale, random position, random
flip) resized to the training size and turned into LAB. Photos with an alpha
channel (cut-outs) are composited onto a crop of another photo of the set, so
that the network never learns a colour for "transparent".
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


class DataError(Exception):
    """The training data cannot be used (missing folder, no images)."""


def find_images(folders: list[str | Path], flag: str = "--data") -> list[Path]:
    """All image files below the folders, searched recursively, sorted (errors name ``flag``)."""
    files: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"{flag} {folder}: no such folder")
        found = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
        if not found:
            raise DataError(f"{flag} {folder}: no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        files.extend(found)
    return sorted(set(files))


def outside(files: list[Path], folders: list[str | Path], flag: str, what: str = "training image") -> list[Path]:
    """``files`` less those below ``folders`` (which must exist: named by ``flag``)."""
    for f in folders:
        if not Path(f).is_dir():
            raise DataError(f"{flag} {f}: no such folder")
    roots = [Path(f).resolve() for f in folders]
    kept = [f for f in files if not any(f.resolve().is_relative_to(r) for r in roots)]
    if not kept:
        raise DataError(f"every {what} lies in a {flag} folder")
    return kept


def holdout(files: list[Path], held_out: list[str | Path]) -> tuple[list[Path], list[Path]]:
    """(training files, validation files): the images below the ``held_out``
    folders are the validation set and are removed from ``files`` wherever
    they appear in it (a held-out folder may lie inside a training folder)."""
    return outside(files, held_out, "--val-data"), find_images(held_out)


def source_of(path: Path, roots: list[str | Path]) -> str:
    """The source a photo comes from: its first folder below the root it lies
    in ("open-photos/ifct"), or the root itself for files directly in it."""
    path = path.resolve()
    for root in sorted((Path(r).resolve() for r in roots), key=lambda r: -len(r.parts)):
        if path.is_relative_to(root):
            rel = path.relative_to(root).parts
            return f"{root.name}/{rel[0]}" if len(rel) > 1 else root.name
    return path.parent.name


def source_weights(files: list[Path], roots: list[str | Path], balance: float) -> tuple[np.ndarray, dict[str, float]]:
    """Per-file sampling weights (summing to 1) that give each source a share
    proportional to (its number of photos) ** ``balance``: 1 draws every photo
    equally (large sources dominate), 0 draws every source equally.
    Also returns each source's share."""
    sources = [source_of(f, roots) for f in files]
    counts = Counter(sources)
    mass = {s: n**balance for s, n in counts.items()}
    total = sum(mass.values())
    share = {s: m / total for s, m in mass.items()}
    w = np.array([share[s] / counts[s] for s in sources], dtype=np.float64)
    return w / w.sum(), share


class BalancedSampler(torch.utils.data.Sampler):
    """Draws ``num_samples`` items an epoch with replacement, by ``weights``.

    The order depends only on (seed, epoch), so a resumed run continues with
    the order it would have had, and every DDP rank takes its own slice
    (``rank::world``) of the same draw. Yields (index, draw) pairs: the draw
    number makes a photo drawn twice in an epoch get two different crops.
    """

    def __init__(self, weights: np.ndarray, num_samples: int, seed: int = 0, rank: int = 0, world: int = 1):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.num_samples, self.seed, self.rank, self.world = num_samples, seed, rank, world
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.multinomial(self.weights, self.num_samples, replacement=True, generator=g).tolist()

    def __iter__(self):
        order = self.draw()
        return iter([(i, k) for k, i in enumerate(order)][self.rank :: self.world])

    def __len__(self) -> int:
        return len(range(self.rank, self.num_samples, self.world))


def validation_crops(run: Path, size: int) -> torch.Tensor:
    """The centre crops (N, 3, size, size) LAB of run folder ``run``'s
    validation photos (its split.json)."""
    _, val_files = read_split(run / "split.json")
    val = PhotoDataset(val_files, DataConfig(size=size), train=False)
    return torch.stack([val[i] for i in range(len(val))])


def split_files(files: list[Path], val_fraction: float, seed: int) -> tuple[list[Path], list[Path]]:
    """A fixed, seeded split by file: (train, validation)."""
    order = list(files)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * val_fraction)) if val_fraction > 0 else 0
    if n_val >= len(order):
        raise DataError(f"only {len(order)} images: too few to keep {n_val} for validation")
    return sorted(order[n_val:]), sorted(order[:n_val])


def subsample(files: list[Path], roots: list[str | Path], fraction: float, seed: int) -> list[Path]:
    """A seeded ``fraction`` of ``files``, taken from every source alike (at least
    one photo of each), so a smaller set keeps the larger one's mix of sources:
    what a learning curve needs. Nested fractions of one seed are nested sets."""
    if not 0 < fraction <= 1:
        raise DataError(f"the fraction of training photos must be in (0, 1]. Got {fraction}")
    if fraction == 1:
        return list(files)
    by_source: dict[str, list[Path]] = {}
    for f in sorted(files):
        by_source.setdefault(source_of(f, roots), []).append(f)
    kept = []
    for name, group in sorted(by_source.items()):
        random.Random(f"{seed}/{name}").shuffle(group)
        kept += group[: max(1, round(len(group) * fraction))]
    return sorted(kept)


def write_split(path: Path, train: list[Path], val: list[Path]) -> None:
    path.write_text(json.dumps({"train": [str(p) for p in train], "val": [str(p) for p in val]}, indent=1))


def read_split(path: Path) -> tuple[list[Path], list[Path]]:
    d = json.loads(path.read_text())
    return [Path(p) for p in d["train"]], [Path(p) for p in d["val"]]


def read_rgba(path: Path, max_short: int) -> np.ndarray | None:
    """An image as uint8 RGB or RGBA (H, W, 3|4), short side at most ``max_short``.

    None when the file cannot be decoded or has no colour (grey photos teach the
    network nothing but grey).
    """
    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im is None or im.ndim != 3 or im.shape[2] not in (3, 4):
        return None
    if im.dtype == np.uint16:
        im = (im // 257).astype(np.uint8)
    im = cv2.cvtColor(im, cv2.COLOR_BGRA2RGBA if im.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    rgb = im[..., :3]
    if np.abs(rgb.astype(np.int16) - rgb.mean(axis=2, keepdims=True).astype(np.int16)).max() <= 2:
        return None
    short = min(im.shape[:2])
    if short > max_short:
        s = max_short / short
        im = cv2.resize(im, (round(im.shape[1] * s), round(im.shape[0] * s)), interpolation=cv2.INTER_AREA)
    return im


def random_square(im: np.ndarray, size: int, rng: random.Random, min_scale: float = 0.5) -> np.ndarray:
    """A random square crop of ``im``, its side between min_scale and 1 of the
    short side (never below ``size`` pixels when the image allows), resized to size x size."""
    h, w = im.shape[:2]
    short = min(h, w)
    lo = min(short, max(size, round(short * min_scale)))
    side = rng.randint(lo, short)
    y, x = rng.randint(0, h - side), rng.randint(0, w - side)
    crop = im[y : y + side, x : x + side]
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def centre_square(im: np.ndarray, size: int) -> np.ndarray:
    h, w = im.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(im[y : y + side, x : x + side], (size, size), interpolation=interp)


def composite(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Alpha-blend an RGBA (H, W, 4) uint8 onto an RGB (H, W, 3) uint8 of the same size."""
    alpha = fg[..., 3:4].astype(np.float32) / 255
    out = fg[..., :3].astype(np.float32) * alpha + bg.astype(np.float32) * (1 - alpha)
    return out.round().astype(np.uint8)


def to_lab(rgb: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> float32 LAB (3, H, W), L in [0, 100]."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    return torch.from_numpy(lab).permute(2, 0, 1).contiguous()


@dataclass
class DataConfig:
    size: int = 128
    cache: bool = True  # keep decoded (shrunk) photos in memory
    min_scale: float = 0.5


class PhotoDataset(Dataset):
    """LAB crops of photos: item i is (3, size, size) float32 LAB.

    ``train=True``: random crop, scale and flip, drawn anew each time.
    ``train=False``: the centre square, the same every time.
    Unreadable or grey files are dropped at construction and counted in ``skipped``.
    """

    def __init__(self, files: list[Path], cfg: DataConfig, train: bool, seed: int = 0):
        self.cfg = cfg
        self.train = train
        self.seed = seed
        self.max_short = 2 * cfg.size if train else cfg.size
        self.files: list[Path] = []
        self.skipped: list[Path] = []
        self.cached: list[np.ndarray] = []
        for f in files:
            im = read_rgba(f, self.max_short)
            if im is None:
                self.skipped.append(f)
                continue
            self.files.append(f)
            if cfg.cache:
                self.cached.append(im)
        self.opaque = [i for i in range(len(self.files)) if self._load(i).shape[2] == 3] if cfg.cache else None
        self._backgrounds = self.opaque if self.opaque is not None else list(range(len(self.files)))
        self._background_weights: list[float] | None = None
        if not self.files:
            raise DataError(f"none of {len(files)} images could be used (unreadable or grey)")
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, i: int) -> np.ndarray:
        if self.cfg.cache:
            return self.cached[i]
        im = read_rgba(self.files[i], self.max_short)
        if im is None:  # changed on disk since construction
            raise DataError(f"{self.files[i]}: no longer readable")
        return im

    def __getitem__(self, item: int | tuple[int, int]) -> torch.Tensor:
        """Item i, or (i, draw) from a ``BalancedSampler``: the draw number
        varies the random crop of a photo drawn more than once."""
        i, draw = item if isinstance(item, tuple) else (item, 0)
        size = self.cfg.size
        if self.train:
            rng = random.Random(hash((self.seed, self.epoch, i, draw)))
            im = random_square(self._load(i), size, rng, self.cfg.min_scale)
            if rng.random() < 0.5:
                im = im[:, ::-1]
        else:
            rng = random.Random(i)
            im = centre_square(self._load(i), size)
        if im.shape[2] == 4:
            im = composite(im, self._background(rng, size))
        return to_lab(np.ascontiguousarray(im))

    def draw_backgrounds_by(self, weights: np.ndarray) -> None:
        """Draw cut-outs' backgrounds with the per-file ``weights`` the photos
        themselves are drawn by (otherwise uniformly)."""
        self._background_weights = [float(weights[j]) for j in self._backgrounds]

    def _background(self, rng: random.Random, size: int) -> np.ndarray:
        """A crop of a random opaque photo of the set, for cut-outs."""
        for _ in range(20):
            im = self._load(rng.choices(self._backgrounds, self._background_weights)[0])
            if im.shape[2] == 3:
                return random_square(im, size, rng, 0.3)
        return np.full((size, size, 3), 128, np.uint8)

    def summary(self) -> dict:
        return {"images": len(self.files), "skipped": len(self.skipped)}
