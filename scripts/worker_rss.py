"""Where the benchmark worker's LiteRT megabytes go: VmRSS after each step of what
`pipeline.bench.worker` does for a .tflite job, in this fresh process.

    .venv/bin/python scripts/worker_rss.py artifacts/real/export/model_int8.tflite [THREADS]
"""
import json
import sys
def st(*keys):
    out = {}
    for line in open('/proc/self/status'):
        k, _, v = line.partition(':')
        if k in keys: out[k] = int(v.split()[0]) / 1024
    return out
def rss(): return st('VmRSS', 'RssAnon', 'RssFile')
steps = [('python', rss())]
import numpy as np
steps.append(('import numpy', rss()))
from ai_edge_litert.interpreter import Interpreter
steps.append(('import ai_edge_litert.interpreter', rss()))
path, threads = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
it = Interpreter(model_path=path, num_threads=threads)
steps.append(('Interpreter(model)', rss()))
runner = it.get_signature_runner('serving_default')
steps.append(('get_signature_runner', rss()))
inp = it.get_signature_list()['serving_default']['inputs'][0]
d = runner.get_input_details()[inp]
x = np.zeros(d['shape'], d['dtype'])
runner(**{inp: x})
steps.append(('first inference', rss()))
for _ in range(50): runner(**{inp: x})
steps.append(('50 inferences', rss()))
for name, mb in steps:
    print(f"{name:34s} VmRSS {mb['VmRSS']:5.1f} MB (anon {mb['RssAnon']:5.1f}, file {mb['RssFile']:5.1f})")
print(f"peak (VmHWM) {st('VmHWM')['VmHWM']:.1f} MB")
