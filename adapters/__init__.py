"""Framework adapters that implement the model contract (installed as modelcentrality.adapters).

- :mod:`modelcentrality.adapters.onnx_runtime`: models exported to ONNX (no torch needed).
- :mod:`modelcentrality.adapters.pytorch`: in-memory ``torch.nn.Module`` pairs, and export
  to the zoo folder format. Imports torch, so it is only imported on demand.
"""
