"""A KServe SDK transformer, written as for KServe itself: a kserve.Model with preprocess/postprocess whose
predict is the SDK's own (it calls the predictor at --predictor_host). Nothing in it knows about Sluice.

Clients send flowers by name: {"flowers": [{"sepal_length": 6.8, "sepal_width": 2.8, "petal_length": 4.8,
"petal_width": 1.4}]}; the predictor (KServe's sklearnserver) gets {"instances": [[6.8, 2.8, 4.8, 1.4]]}; the
answer carries the class indices and the species names.

KServe's controller (and Sluice) append --model_name, --predictor_host and --http_port; everything else is
kserve.model_server's own parser (e.g. --enable_grpc false, --predictor_protocol v2).
"""
import argparse
from typing import Dict, Optional

import kserve
from kserve import model_server
from kserve.errors import InvalidInput

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SPECIES = ["setosa", "versicolor", "virginica"]


class IrisTransformer(kserve.Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.ready = True

    def preprocess(self, payload: Dict, headers: Optional[Dict[str, str]] = None) -> Dict:
        flowers = payload.get("flowers") if isinstance(payload, dict) else None
        if not isinstance(flowers, list):
            raise InvalidInput('expected {"flowers": [{"sepal_length": ..., ...}, ...]}')
        try:
            return {"instances": [[float(f[k]) for k in FEATURES] for f in flowers]}
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput(f"each flower needs {', '.join(FEATURES)} as numbers: {e}")

    def postprocess(self, response: Dict, headers: Optional[Dict[str, str]] = None) -> Dict:
        predictions = response["predictions"]
        return {"predictions": predictions, "species": [SPECIES[int(p)] for p in predictions]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    args, _ = parser.parse_known_args()
    kserve.ModelServer().start([IrisTransformer(args.model_name)])
