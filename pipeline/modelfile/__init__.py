"""The exported model file: the .tflite and its model.json, read and written here.

variants (the registry of exported files), tflite_file (the flatbuffer's bytes), metadata and
metadata_fbs (standard TFLite metadata), embed (writes it into a file), spec (the model.json
entry export writes), model_info (reads a file's metadata back) and runtime (runs a file
with LiteRT). No TensorFlow here: deploy, report and web read model files through it."""
