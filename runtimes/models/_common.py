"""Shared helpers for the model-training scripts (tiny models, trained at test time).

Every script takes `--out DIR`, writes the model files KServe's runtimes expect into DIR and an
`expected.json` beside them: the request inputs and the model's own predictions computed directly in
Python, which the conformance suite compares the served answers against.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

# Three rows, one per iris class, so every class label appears in the answer.
IRIS_PROBE_ROWS = [
    [5.1, 3.5, 1.4, 0.2],
    [6.4, 3.2, 4.5, 1.5],
    [6.3, 3.3, 6.0, 2.5],
]
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def parse_out_dir(description: str) -> str:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, help="directory to write the model and expected.json into")
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    return out


def iris() -> tuple[Any, Any]:
    """Iris ships inside scikit-learn: no download."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def to_plain(value: Any) -> Any:
    """numpy arrays and scalars to plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    return value


def write_expected(out: str, expected: dict[str, Any]) -> None:
    path = os.path.join(out, "expected.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(to_plain(expected), f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"wrote {path}", file=sys.stderr)


def versions(*modules: str) -> dict[str, str]:
    from importlib.metadata import version

    return {m: version(m) for m in modules}
