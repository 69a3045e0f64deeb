"""The convolution lab's engine: output-size arithmetic, a step-by-step reference convolution, pooling, coverage,
named filters and filter banks."""
