"""Iris classifier with XGBoost, saved as `model.bst` (KServe xgbserver, MLServer xgboost).

xgboost >= 2 writes UBJSON when the file name has no .json/.ubj suffix; both servers read it back by name.
"""
import os

import numpy as np
import xgboost as xgb

from _common import IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected


def main() -> None:
    out = parse_out_dir(__doc__)
    x, y = iris()
    classifier = xgb.XGBClassifier(n_estimators=8, max_depth=2, n_jobs=1).fit(x, y)
    path = os.path.join(out, "model.bst")
    classifier.save_model(path)
    # What KServe's xgbserver answers: the raw Booster output over a DMatrix (class probabilities).
    booster = xgb.Booster(params={"nthread": 1}, model_file=path)
    rows = np.array(IRIS_PROBE_ROWS, dtype=np.float32)
    write_expected(out, {
        "format": "xgboost",
        "files": ["model.bst"],
        "inputs": IRIS_PROBE_ROWS,
        "booster_predict": booster.predict(xgb.DMatrix(rows)),
        "predict": classifier.predict(rows),
        "predict_proba": classifier.predict_proba(rows),
        "versions": versions("xgboost"),
    })


if __name__ == "__main__":
    main()
