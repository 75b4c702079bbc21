"""int8 quantization beyond the converter's defaults: calibrate once, measure each layer's
error with TensorFlow's quantization debugger, keep chosen or worst layers in float."""
