"""Serving: the protocol adapters (Open Inference Protocol v2 codecs `tensors`/`oip`, OpenAI's error shape)
and the model side (ONNX Runtime sessions, the model cache, the dynamic batcher, artifacts). The adapters
never touch a model; models and engines never see HTTP."""
