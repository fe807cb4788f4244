"""Model packaging: export to ONNX, validate parity, lay out a Triton repository, build an OCI
image, publish to every cloud's model store. Separate stages with named errors."""
