"""Triton python-backend model for the Sluice conformance suite: a linear softmax iris classifier.

Reads weights.json (scikit-learn's LogisticRegression coefficients) beside this file; input `input__0`
FP64 [n, 4]; outputs `predict` INT64 [n] and `predict_proba` FP64 [n, 3]. Needs only numpy.
"""
import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "weights.json")
        with open(path, encoding="utf-8") as f:
            weights = json.load(f)
        self.coef = np.asarray(weights["coef"], dtype=np.float64)
        self.intercept = np.asarray(weights["intercept"], dtype=np.float64)

    def execute(self, requests):
        responses = []
        for request in requests:
            rows = pb_utils.get_input_tensor_by_name(request, "input__0").as_numpy().astype(np.float64)
            if rows.ndim != 2 or rows.shape[1] != self.coef.shape[1]:
                error = pb_utils.TritonError(f"expected [n, {self.coef.shape[1]}] rows, got {list(rows.shape)}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
                continue
            logits = rows @ self.coef.T + self.intercept
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            proba = shifted / shifted.sum(axis=1, keepdims=True)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("predict", np.argmax(logits, axis=1).astype(np.int64)),
                pb_utils.Tensor("predict_proba", proba),
            ]))
        return responses
