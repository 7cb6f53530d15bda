"""Chat generation with vLLM's offline engine, run in worker subprocesses.

Each worker (``python -m drift.rollout.vllm_worker``) owns one ``vllm.LLM`` over an exported HF
directory; ``close()`` ends it, which is the only way to give its memory back (``del llm`` frees
nothing). ``data_parallel_size`` workers each get ``tensor_parallel_size`` GPUs of their own and
a share of every ``generate`` call. vLLM is imported in the workers only.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import subprocess
import sys
import time
import weakref
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from drift.config import RolloutConfig
from drift.enums import DType
from drift.models.config import ModelConfig
from drift.rollout.engine import SamplingParams
from drift.types import Message

log = logging.getLogger(__name__)

WORKER_MODULE = "drift.rollout.vllm_worker"

Request = tuple[list[Message], dict[str, Any]]


class VLLMWorkerError(RuntimeError):
    """A vLLM worker failed; the message carries its traceback or exit code."""


class _Worker:
    """One worker subprocess and the two pipes to it."""

    def __init__(self, llm_kwargs: dict[str, Any], env: dict[str, str], command: list[str]) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [*command, str(to_worker_r), str(from_worker_w)],
                pass_fds=(to_worker_r, from_worker_w),
                env=env,
                start_new_session=True,  # Ctrl-C reaches the parent, which closes the worker
            )
        except BaseException:
            os.close(to_worker_w)
            os.close(from_worker_r)
            raise
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        self.outbox = Connection(to_worker_w, readable=False)
        self.inbox = Connection(from_worker_r, writable=False)
        self.children: list[Any] = []  # vLLM's engine processes, ended with the worker
        self.outbox.send(("init", llm_kwargs))

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """The worker's start-up info; notes the processes vLLM started, to end them later."""
        info = self.recv(timeout)
        self.children = _descendants(self.proc.pid)
        return info

    def send(self, kind: str, payload: Any) -> None:
        try:
            self.outbox.send((kind, payload))
        except OSError as err:
            raise self._died() from err

    def recv(self, timeout: float | None = None) -> Any:
        """The payload of the worker's next reply; raises VLLMWorkerError on error or exit."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.inbox.poll(1.0):
            if self.proc.poll() is not None:
                raise self._died()
            if deadline is not None and time.monotonic() > deadline:
                raise VLLMWorkerError(f"vLLM worker {self.proc.pid}: no reply in {timeout} s")
        try:
            kind, payload = self.inbox.recv()
        except (EOFError, OSError) as err:
            raise self._died() from err
        if kind == "error":
            raise VLLMWorkerError(f"vLLM worker {self.proc.pid} failed:\n{payload}")
        return payload

    def _died(self) -> VLLMWorkerError:
        code = self.proc.wait()
        return VLLMWorkerError(
            f"vLLM worker {self.proc.pid} exited with code {code} (its log is on stderr)"
        )

    def close(self, timeout: float = 60.0) -> None:
        """Ask the worker to exit, then terminate/kill it and any process it left behind
        (vLLM's engine processes outlive a worker that was killed)."""
        running = self.proc.poll() is None  # not reaped: the pid is still this worker's
        now = _descendants(self.proc.pid) if running else []
        children = {p.pid: p for p in [*self.children, *now]}
        if running:
            with contextlib.suppress(OSError):
                self.outbox.send(("close", None))
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        _reap(list(children.values()))
        self.outbox.close()
        self.inbox.close()


def _descendants(pid: int) -> list[Any]:
    """psutil handles of ``pid``'s descendants (vLLM's engine processes); [] without psutil."""
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing or the worker already gone
        return []


def _still_running(procs: list[Any], timeout: float) -> list[Any]:
    """Those of ``procs`` still running after up to ``timeout`` s (zombies count as ended)."""
    import psutil

    def running(proc: Any) -> bool:
        try:
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    deadline = time.monotonic() + timeout
    alive = [p for p in procs if running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if running(p)]
    return alive


def _reap(procs: list[Any], timeout: float = 5.0) -> None:
    """Terminate, then kill, those of ``procs`` still running (psutil handles: safe against pid
    reuse). After a clean worker exit vLLM has ended them already."""
    if not procs:
        return
    import psutil

    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    for proc in _still_running(procs, timeout):
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _still_running(procs, timeout)


def _close_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.close()


def _worker_env(
    base: dict[str, str], cpu_kvcache_space_gb: int, devices: list[str] | None
) -> dict[str, str]:
    env = dict(base)
    env["VLLM_CPU_KVCACHE_SPACE"] = str(cpu_kvcache_space_gb)
    env.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # export VLLM_LOGGING_LEVEL=INFO to see more
    root = str(Path(__file__).resolve().parents[2])  # so ``-m drift...`` finds this checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    if devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    return env


def _device_groups(data_parallel: int, tensor_parallel: int) -> list[list[str] | None]:
    """Visible GPUs per worker: disjoint groups of ``tensor_parallel`` (all GPUs if dp == 1)."""
    if data_parallel == 1:
        return [None]
    need = data_parallel * tensor_parallel
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = visible.split(",") if visible else [str(i) for i in range(need)]
    if len(ids) < need:
        raise ValueError(
            f"data_parallel_size x tensor_parallel_size = {need} GPUs needed, "
            f"CUDA_VISIBLE_DEVICES has {len(ids)}"
        )
    return [ids[i * tensor_parallel : (i + 1) * tensor_parallel] for i in range(data_parallel)]


def group_conversations(
    conversations: Sequence[list[Message]],
) -> tuple[list[list[Message]], list[int], list[int]]:
    """Distinct conversations (first-seen order), their counts, and each input's group index."""
    index: dict[tuple[tuple[tuple[str, str], ...], ...], int] = {}
    unique: list[list[Message]] = []
    counts: list[int] = []
    group_of: list[int] = []
    for conv in conversations:
        key = tuple(tuple(sorted(m.items())) for m in conv)
        g = index.setdefault(key, len(unique))
        if g == len(unique):
            unique.append([dict(m) for m in conv])
            counts.append(0)
        counts[g] += 1
        group_of.append(g)
    return unique, counts, group_of


def shard_bounds(sizes: Sequence[int], num_shards: int) -> list[tuple[int, int]]:
    """Contiguous ``[lo, hi)`` ranges of ``sizes`` with about equal sums, one per shard."""
    cum = np.cumsum(np.asarray(sizes, dtype=np.int64))
    if len(cum) == 0:
        return [(0, 0)] * num_shards
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, num_shards) / num_shards, side="right")
    edges = [0, *cuts.tolist(), len(cum)]
    return list(itertools.pairwise(edges))


class VLLMEngine:
    """The :class:`~drift.rollout.engine.Engine` protocol on vLLM workers (see module doc).

    Identical conversations in one call become one request with ``n`` samples (greedy: one
    completion, copied). Each request gets its own seed drawn from ``params.seed`` (vLLM seeds
    its ``n`` samples ``seed + i``), so a seeded call is reproducible. Use as a context manager
    or call :meth:`close`; a forgotten engine is closed when garbage-collected or at exit.
    """

    def __init__(
        self,
        model: str,
        *,
        llm_kwargs: dict[str, Any] | None = None,
        data_parallel_size: int = 1,
        cpu_kvcache_space_gb: int = 1,
        start_timeout_s: float = 1800.0,
        worker_command: Sequence[str] | None = None,
    ) -> None:
        """``worker_command`` runs a worker (its two pipe descriptors are appended); by default
        ``python -m drift.rollout.vllm_worker``; a prefix such as ``numactl ...`` goes here."""
        if data_parallel_size <= 0:
            raise ValueError(f"data_parallel_size must be > 0, got {data_parallel_size}")
        kwargs = {"model": model, "tokenizer": model, **(llm_kwargs or {})}
        tp = int(kwargs.get("tensor_parallel_size", 1))
        groups = _device_groups(data_parallel_size, tp)
        command = list(worker_command or [sys.executable, "-m", WORKER_MODULE])
        self._workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _close_all, self._workers)
        start = time.perf_counter()
        try:
            for devices in groups:
                env = _worker_env(dict(os.environ), cpu_kvcache_space_gb, devices)
                self._workers.append(_Worker(kwargs, env, command))
            self.info = [w.wait_ready(start_timeout_s) for w in self._workers]
        except BaseException:
            self.close()
            raise
        log.info(
            "vLLM %s ready on %s: %d engine(s) in %.1f s",
            self.info[0]["vllm"],
            self.info[0]["device"],
            len(self._workers),
            time.perf_counter() - start,
        )

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [w.proc.pid for w in self._workers]

    def close(self) -> None:
        """End every worker (idempotent); the engine cannot generate afterwards."""
        self._finalizer()

    def __enter__(self) -> VLLMEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate(self, conversations: Sequence[list[Message]], params: SamplingParams) -> list[str]:
        """One assistant reply per conversation, in input order."""
        if not self._finalizer.alive:
            raise RuntimeError("VLLMEngine is closed")
        if not conversations:
            return []
        unique, counts, group_of = group_conversations(conversations)
        requests = self._requests(unique, counts, params)
        sizes = [kw["n"] for _, kw in requests]
        bounds = shard_bounds(sizes, len(self._workers))
        busy = [(w, lo, hi) for w, (lo, hi) in zip(self._workers, bounds, strict=True) if hi > lo]
        for worker, lo, hi in busy:
            worker.send("generate", requests[lo:hi])
        texts: list[list[str]] = []
        errors: list[VLLMWorkerError] = []
        for worker, _, _ in busy:  # read every reply, so no worker is left out of step
            try:
                texts.extend(worker.recv())
            except VLLMWorkerError as err:
                errors.append(err)
        if errors:
            raise errors[0]
        if params.greedy:
            texts = [t * c for t, c in zip(texts, counts, strict=True)]
        taken = [0] * len(unique)
        replies = []
        for g in group_of:
            replies.append(texts[g][taken[g]])
            taken[g] += 1
        return replies

    @staticmethod
    def _requests(
        unique: list[list[Message]], counts: list[int], params: SamplingParams
    ) -> list[Request]:
        """vLLM ``SamplingParams`` keyword arguments per distinct conversation."""
        seeds: list[int | None] = [None] * len(unique)
        if params.seed is not None:
            rng = np.random.default_rng(params.seed)
            seeds = rng.integers(0, 2**62, size=len(unique)).tolist()
        base = {
            "temperature": params.temperature,
            "top_p": 1.0 if params.greedy else params.top_p,
            "max_tokens": params.max_new_tokens,
            "skip_special_tokens": True,
        }
        return [
            (conv, {**base, "n": 1 if params.greedy else count, "seed": seed})
            for conv, count, seed in zip(unique, counts, seeds, strict=True)
        ]


def llm_kwargs(rollout: RolloutConfig, model_cfg: ModelConfig) -> dict[str, Any]:
    """``vllm.LLM`` keyword arguments from the config (``None`` values: chosen by the worker)."""
    dtype = DType(rollout.dtype if rollout.dtype is not None else model_cfg.dtype).value
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "tensor_parallel_size": rollout.tensor_parallel_size,
        "gpu_memory_utilization": rollout.gpu_memory_utilization,
        "enforce_eager": rollout.enforce_eager,
        "trust_remote_code": model_cfg.trust_remote_code,
        "seed": 0,  # each request carries its own seed
    }
    if rollout.max_model_len is not None:
        kwargs["max_model_len"] = rollout.max_model_len
    return {**kwargs, **rollout.engine_kwargs}


def vllm_engine(rollout: RolloutConfig, model_cfg: ModelConfig, policy: str) -> VLLMEngine:
    """A :class:`VLLMEngine` over the HF directory (or hub name) ``policy`` as configured."""
    return VLLMEngine(
        policy,
        llm_kwargs=llm_kwargs(rollout, model_cfg),
        data_parallel_size=rollout.data_parallel_size,
        cpu_kvcache_space_gb=rollout.cpu_kvcache_space_gb,
        start_timeout_s=rollout.start_timeout_s,
    )
