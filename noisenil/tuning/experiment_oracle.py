"""The oracles of an experiment: Keras Tuner's, with atomic records, recovery on resume, leases.

:class:`ExperimentOracle` is mixed into Keras Tuner's ``RandomSearchOracle``,
``HyperbandOracle`` and ``BayesianOptimizationOracle`` (:data:`ORACLES`). It changes three
things:

- **Atomic records.** ``oracle.json`` and every ``trial_<id>/trial.json`` are written whole or
  not at all (:func:`~noisenil.config.atomic.write_json`); Keras Tuner truncates and rewrites
  them in place, so a kill at the wrong moment left them empty.
- **Recovery on resume** (:meth:`ExperimentOracle.reload`). A ``trial.json`` that is missing or
  torn (written before this, or by another program) is rebuilt from the trial's row of
  ``trials.csv`` when the trial had ended, else dropped (the trial runs again under its id); an
  ``oracle.json`` that is missing, torn or names trials that no longer exist is rebuilt from the
  trial records (Hyperband's brackets from each trial's ``tuner/*`` values). Then the records
  are reconciled: a trial that ended is never run again (Keras Tuner saves the oracle *before* it
  takes an ended trial off its running list, so a kill there reran it), a trial still running is
  run again under its id.
- **Leases** (distributed mode, on the chief: :attr:`ExperimentOracle.lease_s`). Every request
  of a worker renews its lease, and a worker sends a heartbeat while it trains
  (:func:`~noisenil.tuning.distributed.heartbeat`). :meth:`ExperimentOracle.requeue_lost` gives
  up on a worker silent for longer than the lease: its trial goes back into the queue for the
  others ("worker tuner1 lost, trial 3 requeued"). While any trial is out, a worker asking for
  one is told to wait (``IDLE``) rather than to stop, so a requeued trial finds a worker.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from pathlib import Path

import keras_tuner as kt
from keras_tuner.engine.trial import Trial, TrialStatus

from noisenil.config.atomic import read_json, write_json
from noisenil.tuning.records import _typed_trials

logger = logging.getLogger(__name__)

#: Statuses of a trial that has ended for good (never run again).
ENDED = (TrialStatus.COMPLETED, TrialStatus.FAILED)
#: Statuses of a trial that was running when the process stopped (run again under its id).
UNFINISHED = (TrialStatus.RUNNING, TrialStatus.IDLE, TrialStatus.INVALID)


def _plain(value):
    return value.item() if hasattr(value, "item") else value


class ExperimentOracle:
    """Mixin over a Keras Tuner oracle; see the module docstring.

    Attributes:
        lease_s: Seconds without a word from a worker after which the chief gives up on it and
            requeues its trial (``tune.worker_lease_s``); ``None`` (the default) in local mode.
    """

    lease_s: float | None = None

    # -- atomic records ---------------------------------------------------------------------
    def save(self):
        write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json(Path(self._get_trial_dir(trial.trial_id)) / "trial.json", trial.get_state())

    # -- recovery ---------------------------------------------------------------------------
    def reload(self):
        project = Path(self._project_dir)
        self.trials = {}
        torn = []
        for path in sorted(project.glob("trial_*/trial.json")):
            try:
                trial = Trial.from_state(read_json(path))
            except (TypeError, KeyError, ValueError, AttributeError):
                torn.append(path)
                continue
            self.trials[trial.trial_id] = trial
        state = read_json(self._get_oracle_fname())
        started = set(state.get("start_order", [])) if isinstance(state, dict) else set()
        for path in torn:
            self._recover_trial(path, started)
        loaded = isinstance(state, dict) and self._load_state(state)
        if not loaded:
            logger.warning("%s: %s; rebuilt from the %d trial records", project,
                           "oracle.json is missing or torn" if not isinstance(state, dict)
                           else "oracle.json does not match the trial records",
                           len(self.trials))
            self._rebuild_state()
        self._reconcile(started if loaded else set(self.trials))
        self.save()

    def _recover_trial(self, path: Path, started: set[str]) -> None:
        """A ``trial.json`` that cannot be read: rebuilt from ``trials.csv``, or dropped."""
        trial_id = path.parent.name[len("trial_"):]
        trial = self._trial_from_table(trial_id)
        if trial is not None:
            logger.warning("%s is torn: rebuilt from trials.csv (%s, %s)", path, trial.status,
                           trial.score)
            self.trials[trial_id] = trial
            self._save_trial(trial)
            return
        later = [t for t in self.trials if int(t) > int(trial_id)]
        if later:  # its id is taken: keep the place, the trial is lost
            trial = Trial(self.get_space(), trial_id=trial_id, status=TrialStatus.FAILED)
            trial.message = "its record (trial.json) was torn by a crash before it ended"
            logger.warning("%s is torn and the trial had not ended: recorded as FAILED", path)
            self.trials[trial_id] = trial
            self._save_trial(trial)
            return
        logger.warning("%s is torn and the trial had not ended: it runs again", path)
        path.unlink(missing_ok=True)
        started.discard(trial_id)

    def _trial_from_table(self, trial_id: str) -> Trial | None:
        """The trial as its row of the experiment's ``trials.csv`` recorded it (ended ones)."""
        project = Path(self._project_dir)
        table_path = project.parent.parent / "trials.csv"
        try:
            table = _typed_trials(table_path)
        except (OSError, ValueError, KeyError):
            return None
        if "model" not in table or "trial_id" not in table:
            return None
        rows = table[(table["model"] == project.name) & (table["trial_id"] == trial_id)]
        if rows.empty or rows.iloc[0]["status"] not in ENDED:
            return None
        row = rows.iloc[0]
        hp = self.get_space()
        hp.values = {k[3:]: _plain(v) for k, v in row.items()
                     if k.startswith("hp.") and not _missing(v)}
        trial = Trial(hp, trial_id=trial_id, status=row["status"])
        score, epoch = row[table.columns[3]], row["best_epoch"]
        if trial.status == TrialStatus.COMPLETED and not _missing(score) and math.isfinite(score):
            name = self.objective.name
            trial.metrics.register(name, direction=self.objective.direction)
            step = 0 if _missing(epoch) else int(epoch) - 1
            trial.metrics.update(name, float(score), step=step)
            trial.score, trial.best_step = float(score), step
        trial.message = row["reason"] or None
        return trial

    def _load_state(self, state: dict) -> bool:
        """Keras Tuner's ``set_state``, refusing a state that names unknown trials."""
        named = set(state.get("start_order", [])) | set(state.get("end_order", [])) | set(
            (state.get("ongoing_trials") or {}).values()) | set(state.get("retry_queue", []))
        if not named <= set(self.trials):
            return False
        try:
            self.set_state(state)
        except (KeyError, TypeError, ValueError, AttributeError):
            return False
        return True

    def _rebuild_state(self) -> None:
        """The oracle's state from the trial records alone (``oracle.json`` lost)."""
        ids = sorted(self.trials, key=int)
        self.start_order = list(ids)
        self.end_order = [i for i in ids if self.trials[i].status in ENDED]
        self.ongoing_trials, self._retry_queue = {}, []
        self._run_times = collections.defaultdict(lambda: 0, {i: 1 for i in self.end_order})
        self._tried_so_far, self._id_to_hash = set(), collections.defaultdict(lambda: None)
        for i in ids:
            self.update_space(self.trials[i].hyperparameters)
            self._record_values(self.trials[i])
        # Not the exact draw count; values already tried are excluded by their hashes anyway.
        self._seed_state = self.seed + len(ids) * max(1, len(self.hyperparameters.space))

    def _reconcile(self, started: set[str]) -> None:
        """Ended trials never run again; unfinished ones run again under their id."""
        queued = [i for i in [*self._retry_queue, *(t.trial_id for t in
                                                    self.ongoing_trials.values())]
                  if i in self.trials]
        self.ongoing_trials = {}
        for trial_id in sorted(self.trials, key=int):
            trial = self.trials[trial_id]
            if trial.status in ENDED:
                if trial_id in queued:
                    logger.info("trial %s had ended (%s): not run again", trial_id,
                                trial.status)
                    queued.remove(trial_id)
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)
                self._run_times[trial_id] = max(1, self._run_times[trial_id])
            elif trial_id not in started and trial_id == max(self.trials, key=int):
                # Recorded, but the oracle was not saved after: created anew under its id.
                del self.trials[trial_id]
                Path(self._get_trial_dir(trial_id), "trial.json").unlink(missing_ok=True)
            elif trial_id not in queued:
                queued.append(trial_id)
                if trial_id not in self.start_order:
                    self.start_order.append(trial_id)
        self._retry_queue = queued

    # -- leases (distributed mode, on the chief) --------------------------------------------
    def _renew(self, tuner_id: str | None = None, trial_id: str | None = None) -> None:
        seen = self.__dict__.setdefault("_seen", {})
        if tuner_id is None:
            tuner_id = next((k for k, t in self.ongoing_trials.items()
                             if t.trial_id == trial_id), None)
        if tuner_id is not None:
            seen[tuner_id] = time.monotonic()

    @kt.synchronized
    def create_trial(self, tuner_id):
        self.requeue_lost()
        self._renew(tuner_id)
        trial = super().create_trial(tuner_id)
        if self.lease_s and trial.status == TrialStatus.STOPPED and self.ongoing_trials:
            # A trial still out may come back (its worker lost): wait for it rather than stop.
            self.tuner_ids.add(tuner_id)
            return Trial(self.get_space(), status=TrialStatus.IDLE)
        return trial

    @kt.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        self._renew(trial_id=trial_id)
        return super().update_trial(trial_id, metrics, step=step)

    def get_trial(self, trial_id):
        self._renew(trial_id=trial_id)  # a worker's heartbeat asks for its own trial
        return super().get_trial(trial_id)

    @kt.synchronized
    def end_trial(self, trial):
        known = self.trials.get(trial.trial_id)
        if known is not None and known.status in ENDED and trial.trial_id in self.end_order:
            logger.warning("trial %s reported ended again (%s): kept as first recorded",
                           trial.trial_id, trial.status)
            return
        self._renew(trial_id=trial.trial_id)
        if trial.trial_id in self._retry_queue:  # requeued, but its worker came back with it
            self._retry_queue.remove(trial.trial_id)
        super().end_trial(trial)
        self.save()  # Keras Tuner saved before the trial left the running list

    @kt.synchronized
    def requeue_lost(self) -> list[tuple[str, str | None]]:
        """Give up on the workers silent for longer than :attr:`lease_s`; requeue their trials.

        Returns:
            ``(tuner id, trial id or None)`` of every worker given up on.
        """
        if not self.lease_s:
            return []
        seen = self.__dict__.setdefault("_seen", {})
        now, lost = time.monotonic(), []
        for tuner_id in sorted(set(self.tuner_ids) | set(self.ongoing_trials)):
            silent = now - seen.setdefault(tuner_id, now)  # a lease starts when first seen
            if silent <= self.lease_s:
                continue
            trial = self.ongoing_trials.pop(tuner_id, None)
            self.tuner_ids.discard(tuner_id)
            seen.pop(tuner_id, None)
            if trial is not None:
                self._retry_queue.append(trial.trial_id)
                logger.warning("worker %s lost, trial %s requeued (no word from it for %.0f s; "
                               "tune.worker_lease_s=%g)", tuner_id, trial.trial_id, silent,
                               self.lease_s)
            else:
                logger.warning("worker %s lost (no word from it for %.0f s, between trials)",
                               tuner_id, silent)
            lost.append((tuner_id, None if trial is None else trial.trial_id))
        if lost:
            self.save()
        return lost


def _missing(value) -> bool:
    try:
        return value is None or value != value or str(value) in ("<NA>", "")
    except TypeError:  # pandas.NA compares to nothing
        return True


class RandomSearchOracle(ExperimentOracle, kt.oracles.RandomSearchOracle):
    """``tune.algorithm=random``."""


class BayesianOracle(ExperimentOracle, kt.oracles.BayesianOptimizationOracle):
    """``tune.algorithm=bayesian``."""


class HyperbandOracle(ExperimentOracle, kt.oracles.HyperbandOracle):
    """``tune.algorithm=hyperband`` (one Hyperband iteration, as :func:`make_tuner` sets)."""

    def _rebuild_state(self) -> None:
        super()._rebuild_state()
        brackets: dict[int, dict] = {}
        for trial_id in sorted(self.trials, key=int):
            values = self.trials[trial_id].hyperparameters.values
            if "tuner/bracket" not in values:
                continue
            num, rnd = int(values["tuner/bracket"]), int(values["tuner/round"])
            bracket = brackets.setdefault(num, {"bracket_num": num, "rounds": [
                [] for _ in range(self._get_num_rounds(num))]})
            bracket["rounds"][rnd].append({"past_id": values.get("tuner/trial_id"),
                                           "id": trial_id})
        if brackets:  # brackets run from the most aggressive down
            self._brackets = [brackets[n] for n in sorted(brackets, reverse=True)]
            self._current_bracket, self._current_iteration = min(brackets), 0


#: The oracle of each ``tune.algorithm``.
ORACLES = {"random": RandomSearchOracle, "bayesian": BayesianOracle,
           "hyperband": HyperbandOracle}

__all__ = ["ENDED", "ORACLES", "BayesianOracle", "ExperimentOracle", "HyperbandOracle",
           "RandomSearchOracle"]
