"""Serving of trained models: Open Inference Protocol v2 codecs, ONNX Runtime sessions, the model cache, the
dynamic batcher and model artifacts. The protocol adapters (`tensors`, `oip`) never touch a model; the model
side (`onnx`, `cache`, `batcher`) never sees HTTP."""
