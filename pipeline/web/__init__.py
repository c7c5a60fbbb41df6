"""The phone page: a static site that runs an exported .tflite in the browser (`pipeline web`)
and a small server for it that records the device benchmarks the page posts (`pipeline serve`).
No TensorFlow here."""
