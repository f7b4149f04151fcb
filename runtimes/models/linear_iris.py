"""Iris softmax classifier exported as plain JSON weights (`weights.json`) for the custom kserve.Model example.

The weights are scikit-learn's multinomial LogisticRegression coefficients; the custom model recomputes
argmax(x @ W.T + b) with numpy, so its answer must equal scikit-learn's predict().
"""
import json
import os

from sklearn.linear_model import LogisticRegression

from _common import IRIS_FEATURES, IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected


def export_weights(out: str) -> LogisticRegression:
    x, y = iris()
    model = LogisticRegression(max_iter=500).fit(x, y)
    with open(os.path.join(out, "weights.json"), "w", encoding="utf-8") as f:
        json.dump({"features": IRIS_FEATURES, "coef": model.coef_.tolist(),
                   "intercept": model.intercept_.tolist()}, f)
    return model


def main() -> None:
    out = parse_out_dir(__doc__)
    model = export_weights(out)
    write_expected(out, {
        "format": "custom",
        "files": ["weights.json"],
        "inputs": IRIS_PROBE_ROWS,
        "predict": model.predict(IRIS_PROBE_ROWS),
        "predict_proba": model.predict_proba(IRIS_PROBE_ROWS),
        "versions": versions("scikit-learn"),
    })


if __name__ == "__main__":
    main()
