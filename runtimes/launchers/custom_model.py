"""A "custom model" as KServe users write one: a kserve.Model subclass with its own preprocess/predict.

It loads `weights.json` (a linear softmax classifier) from --model_dir and answers the class index per row.
Rows must have as many numbers as the weights have features; anything else is refused in preprocess with
kserve's InvalidInput, which the SDK turns into HTTP 400 {"error": "..."}.
"""
import json
import os
from typing import Dict, Optional, Union

import kserve
import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.utils.utils import get_predict_input, get_predict_response

from _kserve_launch import find_model_file, parse_args, serve


class LinearClassifier(kserve.Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = model_dir
        self._coef = np.zeros((0, 0))
        self._intercept = np.zeros(0)

    def load(self) -> bool:
        with open(find_model_file(self.model_dir, ["weights.json"]), encoding="utf-8") as f:
            weights = json.load(f)
        self._coef = np.asarray(weights["coef"], dtype=np.float64)
        self._intercept = np.asarray(weights["intercept"], dtype=np.float64)
        self.ready = True
        return self.ready

    def preprocess(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None
                   ) -> Union[Dict, InferRequest]:
        if isinstance(payload, dict) and "instances" not in payload and "inputs" not in payload:
            raise InvalidInput('expected "instances" (v1) or "inputs" (v2)')
        try:
            rows = np.asarray(get_predict_input(payload), dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"rows must be numbers: {e}")
        features = self._coef.shape[1]
        if rows.ndim != 2 or rows.shape[1] != features:
            raise InvalidInput(f"expected rows of {features} numbers, got shape {list(rows.shape)}")
        return payload

    def predict(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None
                ) -> Union[Dict, InferResponse]:
        rows = np.asarray(get_predict_input(payload), dtype=np.float64)
        classes = np.argmax(rows @ self._coef.T + self._intercept, axis=1).astype(np.int64)
        return get_predict_response(payload, classes, self.name)


if __name__ == "__main__":
    args = parse_args(__doc__)
    serve(LinearClassifier(args.model_name, args.model_dir), args)
