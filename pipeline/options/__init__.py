"""Every command's options, typed: the one place of their defaults, help texts, choices and
limits. The `pipeline` command (cli/build.py generates each command's flags from these
classes) and the Python API (api.py, a function per command) both build them, and the
command's module reads nothing else, so a flag is written once.

Each class names its command (`stage`: "train", "data split", ...) and the module whose
`run(options)` does the work (`module`); COMMANDS lists them all, in the order of `pipeline
--help`. How fields are declared and checked: options/base.py.
"""
from pipeline.options.base import (DECODERS, StageOptions, flag, option,  # noqa: F401
                                   unwrap_optional)
from pipeline.options.stages import (DEFAULT_ARCH, DEFAULT_LR, FREEZE_EPOCHS,  # noqa: F401
                                     BenchmarkOptions, EvaluateOptions, ExportOptions,
                                     PredictOptions, QuantizeOptions, ReportOptions,
                                     ThresholdOptions, TrainOptions)
from pipeline.options.tools import (AndroidOptions, CheckOptions,  # noqa: F401
                                    FromFoldersOptions, InspectOptions, PackOptions,
                                    ServeOptions, SplitOptions, SynthOptions, WebOptions)

COMMANDS = (TrainOptions, QuantizeOptions, ExportOptions, EvaluateOptions, BenchmarkOptions,
            ReportOptions, PredictOptions, InspectOptions, AndroidOptions, WebOptions,
            ServeOptions, SynthOptions, FromFoldersOptions, SplitOptions, CheckOptions,
            PackOptions)
