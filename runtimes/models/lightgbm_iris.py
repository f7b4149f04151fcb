"""Iris classifier with LightGBM, saved as `model.bst` (LightGBM text format; KServe lgbserver, MLServer lightgbm)."""
import os

import lightgbm as lgb
import numpy as np

from _common import IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected


def main() -> None:
    out = parse_out_dir(__doc__)
    x, y = iris()
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 4, "min_data_in_leaf": 5,
              "num_threads": 1, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=8)
    path = os.path.join(out, "model.bst")
    booster.save_model(path)
    reloaded = lgb.Booster(model_file=path)
    proba = reloaded.predict(np.array(IRIS_PROBE_ROWS))
    write_expected(out, {
        "format": "lightgbm",
        "files": ["model.bst"],
        "inputs": IRIS_PROBE_ROWS,
        "booster_predict": proba,
        "predict": np.argmax(proba, axis=1),
        "versions": versions("lightgbm"),
    })


if __name__ == "__main__":
    main()
