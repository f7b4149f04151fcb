"""Iris decision tree logged with MLflow's sklearn flavour: an MLmodel directory (MLServer mlflow runtime).

Saved with mlflow.sklearn.save_model (no tracking server, nothing downloaded) straight into --out.
"""
import os
import shutil

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from _common import IRIS_FEATURES, IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected


def main() -> None:
    out = parse_out_dir(__doc__)
    os.environ.setdefault("MLFLOW_TRACKING_URI", "file://" + os.path.join(out, ".mlruns"))
    import mlflow.sklearn
    from mlflow.models import infer_signature

    x, y = iris()
    frame = pd.DataFrame(x, columns=IRIS_FEATURES)
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(frame, y)
    probe = pd.DataFrame(np.array(IRIS_PROBE_ROWS), columns=IRIS_FEATURES)
    signature = infer_signature(frame, model.predict(frame))
    # save_model refuses an existing non-empty directory: write to a child and move its files up.
    staging = os.path.join(out, ".mlflow-staging")
    shutil.rmtree(staging, ignore_errors=True)
    mlflow.sklearn.save_model(model, staging, signature=signature, serialization_format="cloudpickle")
    for name in os.listdir(staging):
        target = os.path.join(out, name)
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.move(os.path.join(staging, name), target)
    os.rmdir(staging)
    loaded = mlflow.pyfunc.load_model(out)
    write_expected(out, {
        "format": "mlflow",
        "files": ["MLmodel"],
        "inputs": IRIS_PROBE_ROWS,
        "columns": IRIS_FEATURES,
        "predict": np.asarray(loaded.predict(probe)),
        "versions": versions("mlflow", "scikit-learn"),
    })


if __name__ == "__main__":
    main()
