"""An MNIST-sized (784 -> 32 -> 10) TorchScript classifier packed as a TorchServe `.mar`.

Trained for a few steps on synthetic "digits" (ten fixed 784-pixel prototypes plus noise), so no data set is
downloaded and each probe row (a prototype) maps to its own class. Writes into --out:
  model.pt                    TorchScript file
  model-store/<name>.mar      archive made by torch-model-archiver with runtimes/models/torchserve_handler.py
  expected.json               probe rows and the model's own class predictions
"""
import os
import shutil
import subprocess
import sys

import torch

from _common import parse_out_dir, versions, write_expected

MODEL_NAME = os.environ.get("SLUICE_TORCH_MODEL_NAME", "mnist")
PROBE_CLASSES = [0, 3, 7]


def prototypes() -> torch.Tensor:
    generator = torch.Generator().manual_seed(7)
    # Rounded to 2 decimals so the JSON request carries exactly the tensor that was checked here.
    return torch.round(torch.rand(10, 784, generator=generator) * 100) / 100


def train(protos: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(10).repeat(20)
    for _ in range(60):
        batch = protos[labels] + 0.1 * torch.randn(len(labels), 784, generator=generator)
        loss = torch.nn.functional.cross_entropy(model(batch), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def main() -> None:
    out = parse_out_dir(__doc__)
    torch.set_num_threads(1)
    protos = prototypes()
    scripted = torch.jit.script(train(protos))
    pt_path = os.path.join(out, "model.pt")
    scripted.save(pt_path)
    rows = protos[PROBE_CLASSES]
    with torch.no_grad():
        logits = torch.jit.load(pt_path)(rows)
    store = os.path.join(out, "model-store")
    os.makedirs(store, exist_ok=True)
    handler = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torchserve_handler.py")
    archiver = shutil.which("torch-model-archiver", path=os.path.dirname(sys.executable)) or "torch-model-archiver"
    subprocess.run([archiver, "--model-name", MODEL_NAME, "--version", "1.0", "--serialized-file", pt_path,
                    "--handler", handler, "--export-path", store, "--force"], check=True)
    write_expected(out, {
        "format": "pytorch",
        "files": [f"model-store/{MODEL_NAME}.mar", "model.pt"],
        "modelName": MODEL_NAME,
        "inputs": rows,
        "predict": torch.argmax(logits, dim=1),
        "logits": logits,
        "versions": versions("torch", "torchserve", "torch-model-archiver"),
    })


if __name__ == "__main__":
    main()
