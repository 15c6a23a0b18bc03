"""Pipeline step: check the four MNIST files and copy them to the step's output folder.

    python -m mnist_trainer.prepare --data DIR --out DIR

Every file is read and checked (IDX header, sizes, images and labels agree) before anything is
written, so a corrupt or incomplete data asset fails this first step with the file named, and the
later steps read one folder they can trust. Each copy is written under a temporary name and
renamed, so the output never holds a file that looks complete but is not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from mnist_trainer.idx import FILES, IdxError, load_mnist


def source_file(data: Path, name: str) -> Path:
    """The published `.gz` name, or the uncompressed copy some mirrors ship."""
    packed = data / name
    return packed if packed.is_file() else data / name.removesuffix(".gz")


def prepare(data: Path, out: Path) -> dict[str, int]:
    """Verify the files in `data`, copy them to `out`; returns the image counts."""
    mnist = load_mnist(data)  # raises IdxError naming the file on any problem
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        source = source_file(data, name)
        target = out / source.name
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    return {"train_images": len(mnist.y_train), "test_images": len(mnist.y_test)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_trainer.prepare", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="folder with the four files")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        counts = prepare(args.data, args.out)
    except IdxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    import mlflow

    with mlflow.start_run():
        mlflow.log_params(counts)
    print(f"verified and copied to {args.out}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
