"""fexlab's Accelerate trainers and the loop pieces they share.

``fexlab.trainers.run`` holds what every trainer uses (run folder, ``metrics.jsonl``, curves, atomic
``best/`` / ``last/`` checkpoints, resume through Accelerate ``save_state`` / ``load_state``,
NaN guard, seeding, config from files and flags); ``fexlab.trainers.hub`` writes model cards and pushes
checkpoints; each trainer (``fexlab.trainers.classifier``, ...) keeps its own loop. Importing this
package loads neither torch nor Accelerate.
"""

from .run import (
    CONFIG_FILE,
    CURVES_FILE,
    METRICS_FILE,
    STATE_DIR,
    EarlyStopping,
    EpochSampler,
    RunDirectory,
    RunState,
    TrainingError,
    add_dataclass_arguments,
    budget_spent,
    check_finite,
    format_metrics,
    load_config_file,
    progress,
    resolve_config,
    resumed_config,
    seed_everything,
)

__all__ = [
    "budget_spent",
    "CONFIG_FILE",
    "CURVES_FILE",
    "METRICS_FILE",
    "STATE_DIR",
    "EarlyStopping",
    "EpochSampler",
    "RunDirectory",
    "RunState",
    "TrainingError",
    "add_dataclass_arguments",
    "check_finite",
    "format_metrics",
    "load_config_file",
    "progress",
    "resolve_config",
    "resumed_config",
    "seed_everything",
]
