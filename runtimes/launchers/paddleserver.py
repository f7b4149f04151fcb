"""kserve-paddleserver equivalent on the KServe SDK: Paddle Inference on the CPU.

The model dir holds one program file (`*.pdmodel`, or Paddle 3's PIR `*.json`) and one `*.pdiparams`. Rows go
in as float32 to the program's first input; the answer is its first output (v1 predictions / v2 output-0).
"""
import glob
import os
from typing import Dict, Optional, Union

import kserve
import numpy as np
from kserve.errors import InferenceError, InvalidInput, ModelMissingError
from kserve.protocol.infer_type import InferRequest, InferResponse
from kserve.utils.utils import get_predict_input, get_predict_response
from paddle import inference

from _kserve_launch import local_dir, parse_args, serve


def _one(base: str, patterns: list) -> str:
    found = sorted({p for pattern in patterns for p in glob.glob(os.path.join(base, pattern))
                    if os.path.basename(p) != "expected.json"})
    if not found:
        raise ModelMissingError(base)
    if len(found) > 1:
        raise RuntimeError(f"more than one of {patterns} in {base}: {found}")
    return found[0]


class PaddleModel(kserve.Model):
    def __init__(self, name: str, model_dir: str, threads: int):
        super().__init__(name)
        self.model_dir = model_dir
        self.threads = threads
        self._predictor = None

    def load(self) -> bool:
        base = local_dir(self.model_dir)
        config = inference.Config(_one(base, ["*.pdmodel", "*.json"]), _one(base, ["*.pdiparams"]))
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(self.threads)
        self._predictor = inference.create_predictor(config)
        self.ready = True
        return self.ready

    def predict(self, payload: Union[Dict, InferRequest], headers: Optional[Dict[str, str]] = None
                ) -> Union[Dict, InferResponse]:
        try:
            rows = np.asarray(get_predict_input(payload), dtype="float32")
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"Failed to initialize NumPy array from inputs: {e}")
        try:
            handle = self._predictor.get_input_handle(self._predictor.get_input_names()[0])
            handle.reshape(list(rows.shape))
            handle.copy_from_cpu(rows)
            self._predictor.run()
            result = self._predictor.get_output_handle(self._predictor.get_output_names()[0]).copy_to_cpu()
            return get_predict_response(payload, result, self.name)
        except Exception as e:
            raise InferenceError(f"Failed to predict {e}")


if __name__ == "__main__":
    args = parse_args(__doc__, lambda p: p.add_argument("--nthread", type=int, default=1,
                                                      help="CPU math library threads"))
    serve(PaddleModel(args.model_name, args.model_dir, args.nthread), args)
