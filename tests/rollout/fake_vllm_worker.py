"""A stand-in for ``drift.rollout.vllm_worker`` without vLLM, speaking the same protocol.

It starts a sleeping child process (as vLLM starts its engine core) and leaves it running when
it exits; replies are ``<last message reversed>#<sample>@<worker pid>``; a last message "boom"
raises; ``FAKE_VLLM_FAIL=1`` makes start-up fail.
"""

import os
import subprocess
import sys
from typing import Any

from drift.rollout import vllm_worker


def build_llm(llm_kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    if os.environ.get("FAKE_VLLM_FAIL") == "1":
        raise ValueError(f"cannot load {llm_kwargs['model']}")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    info = {"pid": os.getpid(), "child": child.pid, "vllm": "fake", "device": "cpu"}
    return child, {**info, "start_seconds": 0.0}


def chat(llm: Any, requests: list[tuple[list[dict[str, str]], dict[str, Any]]]) -> list[list[str]]:
    if any(conv[-1]["content"] == "boom" for conv, _ in requests):
        raise ValueError("boom requested")
    pid = os.getpid()
    return [
        [f"{conv[-1]['content'][::-1]}#{i}@{pid}" for i in range(kw["n"])] for conv, kw in requests
    ]


vllm_worker.build_llm = build_llm
vllm_worker.chat = chat

if __name__ == "__main__":
    sys.exit(vllm_worker.main(sys.argv[1:]))
