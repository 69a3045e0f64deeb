"""The convolution lab's engine: output-size arithmetic, a step-by-step reference convolution and pooling, filters."""
