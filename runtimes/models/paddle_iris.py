"""Iris softmax classifier in PaddlePaddle, exported for Paddle Inference (KServe's paddleserver).

A single Linear(4 -> 3) layer trained for a few hundred full-batch steps, saved with paddle.jit.save as
`model.json` (Paddle 3 PIR program; `model.pdmodel` on the older IR) + `model.pdiparams`. expected.json holds
the probe rows and the exported program's own softmax output, run through paddle.inference as the server does.
"""
import glob
import os

import numpy as np
import paddle

from _common import IRIS_PROBE_ROWS, iris, parse_out_dir, versions, write_expected


class Classifier(paddle.nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.linear = paddle.nn.Linear(4, 3)

    def forward(self, x):
        return paddle.nn.functional.softmax(self.linear(x), axis=-1)


def main() -> None:
    out = parse_out_dir(__doc__)
    paddle.seed(0)
    x, y = iris()
    features = paddle.to_tensor(x.astype("float32"))
    labels = paddle.to_tensor(y.astype("int64"))
    model = Classifier()
    optimiser = paddle.optimizer.Adam(learning_rate=0.05, parameters=model.parameters())
    for _ in range(300):
        # use_softmax=False: the model already outputs probabilities; cross_entropy takes their log itself.
        loss = paddle.nn.functional.cross_entropy(model(features), labels, use_softmax=False)
        loss.backward()
        optimiser.step()
        optimiser.clear_grad()
    model.eval()
    paddle.jit.save(model, os.path.join(out, "model"),
                    input_spec=[paddle.static.InputSpec(shape=[None, 4], dtype="float32", name="x")])
    program = next(iter(sorted(glob.glob(os.path.join(out, "model.json")) + glob.glob(os.path.join(out, "model.pdmodel")))))
    config = paddle.inference.Config(program, os.path.join(out, "model.pdiparams"))
    config.disable_gpu()
    predictor = paddle.inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.copy_from_cpu(np.array(IRIS_PROBE_ROWS, dtype="float32"))
    predictor.run()
    proba = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    write_expected(out, {
        "format": "paddle",
        "files": [os.path.basename(program), "model.pdiparams"],
        "inputs": IRIS_PROBE_ROWS,
        "predict_proba": proba,
        "predict": np.argmax(proba, axis=1),
        "versions": versions("paddlepaddle"),
    })


if __name__ == "__main__":
    main()
