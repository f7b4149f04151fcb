"""kserve-lgbserver equivalent on the KServe SDK: serves a LightGBM text model (model.bst) as a Booster.

The answer is Booster.predict over the inputs (class probabilities for multiclass models).
"""
from typing import Dict, Optional, Union

import kserve
import lightgbm as lgb
from kserve.errors import InferenceError
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.utils.utils import get_predict_input, get_predict_response

from _kserve_launch import find_model_file, parse_args, serve

MODEL_FILES = ["model.bst"]


class LightGBMModel(kserve.Model):
    def __init__(self, name: str, model_dir: str, nthread: int):
        super().__init__(name)
        self.model_dir = model_dir
        self.nthread = nthread
        self._booster = None

    def load(self) -> bool:
        path = find_model_file(self.model_dir, MODEL_FILES)
        self._booster = lgb.Booster(params={"num_threads": self.nthread}, model_file=path)
        self.ready = True
        return self.ready

    def predict(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None
                ) -> Union[Dict, InferResponse]:
        try:
            result = self._booster.predict(get_predict_input(payload), num_threads=self.nthread)
            return get_predict_response(payload, result, self.name)
        except Exception as e:
            raise InferenceError(str(e))


if __name__ == "__main__":
    args = parse_args(__doc__, lambda p: p.add_argument("--nthread", type=int, default=1,
                                                      help="number of threads LightGBM uses"))
    serve(LightGBMModel(args.model_name, args.model_dir, args.nthread), args)
