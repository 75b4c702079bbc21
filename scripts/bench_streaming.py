"""Peak memory of a build as its image folder grows: 2,000 vs 20,000 generated 96x96 RGB PNGs.

The folder is streamed (read as needed), so peak RSS should stay nearly flat (goal: at most
1.3x for 10x the images). For contrast, the same images as an in-memory .npz, the way every
source was read before streaming. Each build runs in its own process; its peak RSS is that
process's maximum resident set size (getrusage).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

CLASSES = 4
SIDE = 96
RECIPE = """\
version = 1
name = "stream-{tag}"
seed = 0

[model]
source = "{script}:small_cnn"

[data]
source = "{source}"

[[stages]]
kind = "train"
epochs = 2
batch_size = 64

[[stages]]
kind = "quantize"
mode = "int8"

[[stages]]
kind = "convert"

[[stages]]
kind = "validate"
runs = 50
memory = false
"""

PEAK = textwrap.dedent("""\
    import resource, subprocess, sys
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""")


def small_cnn():
    """A small CNN for 96x96 RGB images of CLASSES classes (the benchmark's model)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras as keras

    return keras.Sequential([
        keras.Input((SIDE, SIDE, 3)),
        keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
        keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(CLASSES),
    ])


def write_folder(root: Path, count: int) -> Path:
    """`count` PNGs, one sub-folder per class: noise tinted red, green, blue or grey (the
    class), with a bright square somewhere."""
    from PIL import Image

    if (root / ".complete").exists():
        return root
    rng = np.random.default_rng(count)
    for label in range(CLASSES):
        (root / f"class{label}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        label = i % CLASSES
        pixels = rng.integers(0, 128, (SIDE, SIDE, 3), dtype=np.uint8)
        pixels[..., slice(None) if label == 3 else label] += 64
        top, left = rng.integers(0, SIDE - 32, 2)
        pixels[top:top + 32, left:left + 32] += 60
        Image.fromarray(pixels).save(root / f"class{label}" / f"{i:05d}.png")
    (root / ".complete").touch()
    return root


def write_npz(folder: Path, path: Path) -> Path:
    """The folder's images as arrays in one .npz (read whole into memory by a build)."""
    from PIL import Image

    if path.exists():
        return path
    files = sorted(folder.rglob("*.png"))
    x = np.stack([np.asarray(Image.open(f)) for f in files])
    y = np.array([int(f.parent.name.removeprefix("class")) for f in files])
    np.savez(path, x=x, y=y)
    return path


def peak_build(out: Path, tag: str, source: Path) -> tuple[float, float, dict]:
    """Peak RSS (MB) and seconds of one `prune2edge build` of the benchmark recipe."""
    recipe = out / f"{tag}.toml"
    recipe.write_text(RECIPE.format(tag=tag, script=Path(__file__).resolve(), source=source))
    start = time.monotonic()
    command = [str(Path(sys.executable).parent / "prune2edge"), "build", str(recipe), "-o",
               str(out / tag), "--force", "-q"]
    result = subprocess.run([sys.executable, "-c", PEAK, *command], check=True,
                            capture_output=True, text=True)
    seconds = time.monotonic() - start
    report = json.loads((out / tag / "report.json").read_text())
    return int(result.stdout.split()[-1]) / 1024, seconds, report


def run(args) -> None:
    rows = []
    for count in (2_000, 20_000):
        folder = write_folder(args.out / f"images-{count}", count)
        npz = write_npz(folder, args.out / f"images-{count}.npz")
        for kind, source in (("folder, streamed", folder), ("npz, in memory", npz)):
            mb, seconds, report = peak_build(args.out, f"{kind.split(',')[0]}-{count}", source)
            rows.append((kind, count, mb, seconds, report["accuracy"]["tflite"]))
            print(f"{kind:18} {count:>6,} images  peak RSS {mb:7.0f} MB  {seconds:5.0f} s  "
                  f"accuracy {report['accuracy']['tflite']:.2%}", flush=True)
    print()
    for kind in ("folder, streamed", "npz, in memory"):
        small, large = (r[2] for r in rows if r[0] == kind)
        print(f"{kind:18} 20,000 vs 2,000 images: peak RSS {large / small:.2f}x")
    streamed = [r[2] for r in rows if r[0] == "folder, streamed"]
    ratio = streamed[1] / streamed[0]
    print(f"goal streamed folder <= 1.3x: {'met' if ratio <= 1.3 else 'NOT met'}: {ratio:.2f}x")


if __name__ == "__main__":
    import benchlib  # here, not above: builds import this file for small_cnn

    benchlib.cli(__doc__, "streaming", run)
