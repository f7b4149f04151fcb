"""Iris logistic regression with scikit-learn, saved as `model.joblib` (KServe sklearnserver, MLServer sklearn)."""
import os

import joblib
from sklearn.linear_model import LogisticRegression

from _common import IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected


def main() -> None:
    out = parse_out_dir(__doc__)
    x, y = iris()
    model = LogisticRegression(max_iter=500).fit(x, y)
    joblib.dump(model, os.path.join(out, "model.joblib"))
    write_expected(out, {
        "format": "sklearn",
        "files": ["model.joblib"],
        "inputs": IRIS_PROBE_ROWS,
        "predict": model.predict(IRIS_PROBE_ROWS),
        "predict_proba": model.predict_proba(IRIS_PROBE_ROWS),
        "versions": versions("scikit-learn", "joblib"),
    })


if __name__ == "__main__":
    main()
