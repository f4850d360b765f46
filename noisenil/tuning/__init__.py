"""Stage 6, tuning: resumable multi-model Keras Tuner experiments (``noisenil tune``).

- :mod:`.experiment`: :func:`tune`, :func:`plan_experiment`, :func:`load_experiment` and
  :class:`TuneResult`, the experiment folder and its resume check;
- :mod:`.tuners`: the Keras Tuner tuners with noisenil's per-trial hooks, and checkpoint pruning;
- :mod:`.records`: ``trials.csv``, ``summary.md``, ``<model>/best_hparams.yaml`` and
  ``best.keras``, written and read back;
- :mod:`.distributed`: Keras Tuner's chief/worker mode (``search_done.json``, the workers' wait
  for the chief).
"""

from noisenil.tuning.distributed import OracleWait, distributed_role, mark_search_done, search_done
from noisenil.tuning.experiment import (
    TuneResult,
    identity_scores,
    load_experiment,
    plan_experiment,
    tune,
)
from noisenil.tuning.records import BestTrial, collect_trials
from noisenil.tuning.tuners import make_tuner, prune_checkpoints

__all__ = ["BestTrial", "OracleWait", "TuneResult", "collect_trials", "distributed_role",
           "identity_scores", "load_experiment", "make_tuner", "mark_search_done",
           "plan_experiment", "prune_checkpoints", "search_done", "tune"]
