"""A Triton model repository with one python-backend model (iris softmax classifier from scikit-learn weights).

Writes <out>/<name>/config.pbtxt, <out>/<name>/1/model.py, <out>/<name>/1/weights.json, and expected.json in
<out>. The repository root (<out>) is what KServe mounts as the storageUri for the Triton runtime.
"""
import os
import shutil

from _common import IRIS_PROBE_ROWS, parse_out_dir, versions, write_expected
from linear_iris import export_weights

MODEL_NAME = os.environ.get("SLUICE_TRITON_MODEL_NAME", "iris")

CONFIG = """name: "{name}"
backend: "python"
max_batch_size: 0
input [
  {{ name: "input__0", data_type: TYPE_FP64, dims: [ -1, 4 ] }}
]
output [
  {{ name: "predict", data_type: TYPE_INT64, dims: [ -1 ] }},
  {{ name: "predict_proba", data_type: TYPE_FP64, dims: [ -1, 3 ] }}
]
instance_group [ {{ kind: KIND_CPU, count: 1 }} ]
"""


def main() -> None:
    out = parse_out_dir(__doc__)
    version_dir = os.path.join(out, MODEL_NAME, "1")
    os.makedirs(version_dir, exist_ok=True)
    model = export_weights(version_dir)
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copy(os.path.join(here, "triton_python_model", "model.py"), os.path.join(version_dir, "model.py"))
    with open(os.path.join(out, MODEL_NAME, "config.pbtxt"), "w", encoding="utf-8") as f:
        f.write(CONFIG.format(name=MODEL_NAME))
    write_expected(out, {
        "format": "triton",
        "modelName": MODEL_NAME,
        "files": [f"{MODEL_NAME}/config.pbtxt", f"{MODEL_NAME}/1/model.py", f"{MODEL_NAME}/1/weights.json"],
        "inputs": IRIS_PROBE_ROWS,
        "predict": model.predict(IRIS_PROBE_ROWS),
        "predict_proba": model.predict_proba(IRIS_PROBE_ROWS),
        "versions": versions("scikit-learn"),
    })


if __name__ == "__main__":
    main()
