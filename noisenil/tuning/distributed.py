"""Distributed tuning: Keras Tuner's chief/worker mode, one oracle port per model.

Start the same command on every process with ``KERASTUNER_TUNER_ID`` (``chief`` or
``tuner<N>``), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` set
(:func:`distributed_role`). The chief serves model ``i`` of ``tune.models`` on port ``PORT + i``
(:func:`_oracle_port`) and marks each model whose search has ended (:func:`mark_search_done`,
``tuner/<model>/search_done.json``); workers train, and move on from a model (or exit) once the
chief has marked it (:func:`search_done`), instead of waiting for an oracle that is no longer
served (:class:`OracleWait`). A worker renews its trial's lease while it trains
(:func:`heartbeat`); the chief requeues the trial of a worker silent for longer than
``tune.worker_lease_s`` (:func:`lease_watch`), so a lost worker does not hang the sweep.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras_tuner as kt

from noisenil.config import Config
from noisenil.config.atomic import write_json
from noisenil.errors import ConfigError, NoiseNilError
from noisenil.tuning.records import _read_trials

logger = logging.getLogger(__name__)

#: Distributed mode: written by the chief into ``tuner/<model>/`` once that model's search has
#: ended (the settings that bound it, the number of trials, the time). Workers read it to move on.
SEARCH_DONE = "search_done.json"
#: Distributed mode: how long (seconds) a worker waits for a model's oracle while no port of the
#: experiment answers and the model is not marked done: the chief may still be starting, or
#: writing one model's results before it serves the next. After that the chief is taken to be
#: gone (crashed, never started, another KERASTUNER_ORACLE_IP) and the worker fails.
CHIEF_WAIT_S = 600.0
#: Distributed mode: how long (seconds) one request for a trial waits for the model's oracle
#: before the worker looks again whether the chief is done with the model (Keras Tuner's own
#: client waits an hour, then fails).
ORACLE_POLL_S = 5.0


def distributed_role() -> str:
    """``local``, or ``chief`` / ``worker`` in Keras Tuner's distributed mode (environment).

    Raises:
        ConfigError: ``KERASTUNER_ORACLE_IP`` set without the port or the tuner id.
    """
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "local"
    for var in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        if var not in os.environ:
            raise ConfigError(f"{var} is not set, but KERASTUNER_ORACLE_IP is: distributed "
                              f"tuning needs KERASTUNER_TUNER_ID, KERASTUNER_ORACLE_IP and "
                              f"KERASTUNER_ORACLE_PORT on every process", key=var)
    if not os.environ["KERASTUNER_ORACLE_PORT"].isdigit():
        raise ConfigError(f"KERASTUNER_ORACLE_PORT={os.environ['KERASTUNER_ORACLE_PORT']!r}: "
                          f"must be a port number", key="KERASTUNER_ORACLE_PORT")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


@contextlib.contextmanager
def _oracle_port(index: int, role: str) -> Iterator[None]:
    """Model ``index`` of the experiment is served on ``KERASTUNER_ORACLE_PORT + index``."""
    if role == "local":
        yield
        return
    base = os.environ["KERASTUNER_ORACLE_PORT"]
    os.environ["KERASTUNER_ORACLE_PORT"] = str(int(base) + index)
    try:
        yield
    finally:
        os.environ["KERASTUNER_ORACLE_PORT"] = base


def _search_budget(cfg: Config, name: str) -> dict[str, Any]:
    """The settings that decide where a model's search ends (``tune.max_trials`` may grow)."""
    t = cfg.tune
    return {"model": name, "algorithm": t.algorithm, "max_trials": t.max_trials,
            "epochs": t.epochs, "hyperband_factor": t.hyperband_factor}


def mark_search_done(cfg: Config, name: str, project: Path) -> Path:
    """Record that model ``name``'s search has ended: ``<project>/search_done.json``.

    Written by the chief once it has stopped serving the model's oracle, so that workers (and a
    chief started again with the same settings) know there is nothing left to do for it.
    """
    path = Path(project) / SEARCH_DONE
    write_json(path, {**_search_budget(cfg, name), "trials": len(_read_trials(Path(project))),
                       "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return path


def search_done(cfg: Config, name: str, project: Path) -> bool:
    """Whether model ``name``'s search has ended with the settings of ``cfg``.

    A mark written under another budget (a sweep extended with a larger ``tune.max_trials``)
    does not count: the search goes on.
    """
    path = Path(project) / SEARCH_DONE
    try:
        mark = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):  # none yet, or being replaced
        return False
    return all(mark.get(key) == value for key, value in _search_budget(cfg, name).items())


class OracleWait:
    """How a worker asks the chief for the trials of one model, and when it stops asking.

    Keras Tuner's worker asks for every trial with ``wait_for_ready`` and a one-hour timeout, so
    a worker that reaches a model after the chief has stopped serving it (the other workers ran
    its last trials meanwhile, or the chief has exited) waits an hour for nothing, then fails.
    This asks in rounds of ``poll_s`` seconds instead; between rounds it ends the model's search
    (a ``STOPPED`` trial, as the chief's own answer would be) once the chief has marked the model
    done (:func:`mark_search_done`), keeps waiting while the chief serves any model of the
    experiment or comes back within ``chief_wait_s`` (starting up, or writing one model's results
    before serving the next), and fails after that.

    Args:
        cfg: The configuration.
        name: The model.
        project: Its Keras Tuner project (``<experiment>/tuner/<model>``).
        host: The chief's address (``KERASTUNER_ORACLE_IP``).
        port: The port of this model's oracle.
        ports: The ports of every model of the experiment.
        chief_wait_s: How long to wait without any sign of the chief.
        poll_s: How long one request waits for the oracle.
    """

    def __init__(self, cfg: Config, name: str, project: Path, *, host: str, port: int,
                 ports: list[int], chief_wait_s: float = CHIEF_WAIT_S,
                 poll_s: float = ORACLE_POLL_S):
        self.cfg = cfg
        self.name = name
        self.project = Path(project)
        self.host = host
        self.port = port
        self.ports = ports
        self.chief_wait_s = chief_wait_s
        self.poll_s = poll_s

    def chief_listening(self) -> bool:
        """Whether the chief serves any model of the experiment now (a TCP connection opens)."""
        for port in self.ports:
            with contextlib.suppress(OSError):
                with socket.create_connection((self.host, port), timeout=min(2.0, self.poll_s)):
                    return True
        return False

    def create_trial(self, client: Any, tuner_id: str) -> Any:
        """``OracleClient.create_trial`` that gives up on a model the chief is done with.

        Args:
            client: The worker's Keras Tuner ``OracleClient`` for this model.
            tuner_id: The worker's ``KERASTUNER_TUNER_ID``.

        Raises:
            NoiseNilError: No sign of the chief for ``chief_wait_s`` seconds.
        """
        import grpc
        from keras_tuner.engine.trial import Trial, TrialStatus
        from keras_tuner.src import protos

        not_served = (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
                      grpc.StatusCode.CANCELLED)
        last_seen: float | None = None  # when the chief was last seen, once waiting
        while True:
            if search_done(self.cfg, self.name, self.project):
                logger.info("%s: the chief has ended this model's search (%s); nothing left "
                            "for %s here", self.name, self.project / SEARCH_DONE, tuner_id)
                return Trial(kt.HyperParameters(), status=TrialStatus.STOPPED)
            try:
                response = client.stub.CreateTrial(
                    protos.get_service().CreateTrialRequest(tuner_id=tuner_id),
                    wait_for_ready=True, timeout=self.poll_s)
                trial = Trial.from_proto(response.trial)
                if trial.status == TrialStatus.IDLE:  # the chief waits on trials still out
                    time.sleep(min(1.0, self.poll_s))
                return trial
            except grpc.RpcError as err:
                if err.code() not in not_served:
                    raise
            now = time.monotonic()
            if last_seen is None:
                last_seen = now
                logger.info("%s: waiting for the chief to serve this model at %s:%d", self.name,
                            self.host, self.port)
            if self.chief_listening():
                last_seen = now
            elif now - last_seen > self.chief_wait_s:
                raise NoiseNilError(
                    f"{self.name}: no oracle at {self.host}:{self.port} and no sign of the chief "
                    f"on ports {self.ports[0]}-{self.ports[-1]} for {now - last_seen:.0f} s, "
                    f"and {self.project / SEARCH_DONE} does not mark the model done: is the "
                    f"chief running at KERASTUNER_ORACLE_IP={self.host}, with the same config "
                    f"and a tune.results_dir shared with this worker?")


@contextlib.contextmanager
def heartbeat(client: Any, trial_id: str, every_s: float) -> Iterator[None]:
    """While a worker trains ``trial_id``: ask the chief for that trial every ``every_s``
    seconds, which renews the trial's lease (see
    :class:`~noisenil.tuning.experiment_oracle.ExperimentOracle`). Failed requests are ignored
    (the chief may be busy or restarting); the worker's own requests tell it when it is gone.

    Args:
        client: The worker's Keras Tuner ``OracleClient`` (anything without ``stub``: no-op).
        trial_id: The trial being trained.
        every_s: Seconds between heartbeats (``tune.worker_lease_s / 5``).
    """
    stub = getattr(client, "stub", None)
    if stub is None:
        yield
        return
    import grpc
    from keras_tuner.src import protos

    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                stub.GetTrial(protos.get_service().GetTrialRequest(trial_id=trial_id),
                              timeout=max(1.0, every_s))
            except grpc.RpcError as err:
                logger.debug("heartbeat of trial %s: %s", trial_id, err.code())

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


@contextlib.contextmanager
def lease_watch(oracle: Any, lease_s: float) -> Iterator[None]:
    """On the chief, while it serves ``oracle``: give up on workers silent for ``lease_s``
    seconds and requeue their trials (``oracle.requeue_lost()``, checked ``lease_s / 5`` apart),
    so one lost worker does not hang the sweep."""
    oracle.lease_s = lease_s
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(max(0.2, lease_s / 5)):
            oracle.requeue_lost()

    thread = threading.Thread(target=watch, name="lease-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


__all__ = ["CHIEF_WAIT_S", "ORACLE_POLL_S", "SEARCH_DONE", "OracleWait", "distributed_role",
           "heartbeat", "lease_watch", "mark_search_done", "search_done"]
