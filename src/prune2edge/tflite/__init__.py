"""Running .tflite files with LiteRT: outputs, latency, kernels and memory, and the validator
built on them. Never imports TensorFlow, so it runs on the target device too."""
