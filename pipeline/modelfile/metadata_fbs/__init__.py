"""The TFLite model metadata schema (metadata_schema.fbs) and its flatc-generated Python code.

Only the flatbuffers package is needed to read or write it: no TensorFlow, no tflite-support,
no mediapipe (whose writer pins numpy<2). See regenerate.sh.
"""
