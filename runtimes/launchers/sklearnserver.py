"""kserve-sklearnserver equivalent on the KServe SDK: serves model.joblib / model.pkl / model.pickle.

v1: {"instances": [[...], ...]} -> {"predictions": [...]}; v2: first input tensor (or content_type "pd").
PREDICT_PROBA=true answers predict_proba instead of predict, as the real server does.
"""
import os
from typing import Dict, Optional, Union

import joblib
import kserve
from kserve.errors import InferenceError
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.utils.utils import get_predict_input, get_predict_response

from _kserve_launch import find_model_file, parse_args, serve

MODEL_FILES = ["model.joblib", "model.pkl", "model.pickle"]


class SKLearnModel(kserve.Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = model_dir
        self._model = None

    def load(self) -> bool:
        self._model = joblib.load(find_model_file(self.model_dir, MODEL_FILES))
        self.ready = True
        return self.ready

    def predict(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None
                ) -> Union[Dict, InferResponse]:
        try:
            inputs = get_predict_input(payload)
            proba = os.environ.get("PREDICT_PROBA", "false").lower() == "true"
            result = self._model.predict_proba(inputs) if proba and hasattr(self._model, "predict_proba") \
                else self._model.predict(inputs)
            return get_predict_response(payload, result, self.name)
        except Exception as e:
            raise InferenceError(str(e))


if __name__ == "__main__":
    args = parse_args(__doc__)
    serve(SKLearnModel(args.model_name, args.model_dir), args)
