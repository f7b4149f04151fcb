"""kserve-pmmlserver equivalent on the KServe SDK, scoring with pypmml (Java 17) instead of jpmml-evaluator.

Each input row is matched to the PMML input fields by position; the answer per row is the record of the
model's output fields (v1: a list of records; v2: one output tensor per output field).
"""
from typing import Dict, Optional, Union

import kserve
import pandas as pd
from kserve.errors import InferenceError
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.utils.utils import get_predict_input, get_predict_response
from pypmml import Model as PMMLModel

from _kserve_launch import find_model_file, parse_args, serve

MODEL_FILES = ["model.pmml"]


class PmmlModel(kserve.Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = model_dir
        self._evaluator = None
        self._inputs: list = []

    def load(self) -> bool:
        self._evaluator = PMMLModel.load(find_model_file(self.model_dir, MODEL_FILES))
        self._inputs = list(self._evaluator.inputNames)
        self.ready = True
        return self.ready

    def predict(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None
                ) -> Union[Dict, InferResponse]:
        try:
            rows = get_predict_input(payload, columns=self._inputs)
            frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows), columns=self._inputs)
            # pypmml scores a DataFrame into a DataFrame of the output fields (one record per row); scoring a
            # dict would hand back a py4j JavaMap instead of a Python dict.
            return get_predict_response(payload, self._evaluator.predict(frame), self.name)
        except Exception as e:
            raise InferenceError(str(e))


if __name__ == "__main__":
    args = parse_args(__doc__)
    serve(PmmlModel(args.model_name, args.model_dir), args)
