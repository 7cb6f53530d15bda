"""Peak RSS and wall time of reading, weighting (DRIFT-IW) and SFT dataset building against N.

    .venv/bin/python benchmarks/memory_rss.py 10000 100000          # character tokenizer
    .venv/bin/python benchmarks/memory_rss.py 10000 --tokenizer DIR  # a Hugging Face tokenizer

For each N a synthetic rollout file of N multi-turn episodes is written (N/8 prompts, 8 samples
each, 1-3 answers of a few hundred characters, a prompt of about 250), then a fresh child
process runs drift's path up to ``fit``: read the trajectories, weigh them, build the weighted
examples, encode them and build the dataset and step sampler, and collate the first
micro-batch. The parent reports the child's peak RSS (``ru_maxrss`` from ``wait4``) and wall
time, and kills the child if its RSS passes ``--kill-gb`` (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORDS = ("the", "answer", "is", "odd", "even", "candidate", "check", "parity", "so", "first")
WORDS += ("we", "consider", "remaining", "options", "feedback", "said", "wrong", "which", "one")


def _text(rng: np.random.Generator, chars: int) -> str:
    words = rng.choice(WORDS, size=chars // 5)
    return " ".join(words)[:chars]


def write_rollouts(path: Path, n: int, seed: int = 0) -> None:
    """``n`` synthetic episodes in drift's trajectory JSONL format, written line by line."""
    rng = np.random.default_rng(seed)
    with path.open("w") as fh:
        for i in range(n):
            turns_n = int(rng.integers(1, 4))
            correct = rng.random(turns_n) < 0.4
            turns = [
                {
                    "text": _text(rng, int(rng.integers(200, 500))) + f" <answer>{k}</answer>",
                    "answer": str(k),
                    "correct": bool(c),
                    "valid": True,
                }
                for k, c in enumerate(correct)
            ]
            record = {
                "prompt_id": f"p{i // 8:07d}",
                "sample_id": i % 8,
                "prompt": [{"role": "user", "content": _text(rng, 250)}],
                "turns": turns,
                "feedback": "That is not right. Think again and give another answer.",
                "ret": float(rng.normal()),
            }
            fh.write(json.dumps(record) + "\n")


def run_path(path: Path, tokenizer_dir: str | None, max_length: int, work: Path) -> dict:
    """Drift's path from a rollout file to the first collated batch; sizes of what it built."""
    from drift.config import MethodConfig, Normalize
    from drift.data.token_store import encode_to_store
    from drift.data.tokenizer import build_char_tokenizer
    from drift.rollout.store import TrajectoryFile
    from drift.training.data import SFTDataset, StepBatchSampler, collate
    from drift.weighting.trajectory import to_train_examples, trajectory_weights

    if tokenizer_dir is None:
        tokenizer = build_char_tokenizer()
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    method = MethodConfig(name="drift_iw", weighting="drift_iw", beta=0.1)
    # as drift.pipeline.methods.train_round: the file is streamed, only the weights are held
    trajectories = TrajectoryFile(path)
    weights = trajectory_weights(trajectories, method.weighting, method.beta)
    examples = to_train_examples(trajectories, weights, method.loss_turns)
    dataset = SFTDataset(encode_to_store(tokenizer, examples, max_length, work))
    sampler = StepBatchSampler(  # as SFTDataModule.setup makes it
        weights=dataset.examples.weights,
        effective_batch_size=64,
        accumulate_grad_batches=1,
        normalize=Normalize.mean,
        seed=0,
        lengths=dataset.examples.lengths,
    )
    batch = collate([dataset[key] for key in next(iter(sampler))], pad_id=0)
    return {"examples": len(dataset), "batch_tokens": int(batch["attention_mask"].sum())}


def _child(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    out = run_path(Path(args.child), args.tokenizer, args.max_length, Path(args.work))
    out["seconds"] = time.perf_counter() - start
    print(json.dumps(out))


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1])


def measure(path: Path, args: argparse.Namespace, work: Path) -> dict:
    """Run the path on ``path`` in a fresh child; its output, peak RSS and wall seconds."""
    cmd = [sys.executable, __file__, "--child", str(path), "--work", str(work)]
    cmd += ["--max-length", str(args.max_length)]
    if args.tokenizer:
        cmd += ["--tokenizer", args.tokenizer]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    killed = False
    while True:  # wait4, not Popen.poll: it reaps the child with its own rusage
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if _rss_kb(proc.pid) > args.kill_gb * 2**20:
            proc.kill()
            killed = True
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    stdout = proc.stdout.read() if proc.stdout else ""
    result = json.loads(stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    return {"peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": wall, "killed": killed, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--tokenizer", help="a Hugging Face tokenizer directory or hub id")
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--kill-gb", type=float, default=3.5, help="kill a child over this RSS")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    print(f"{'N':>9} {'peak RSS MB':>12} {'wall s':>8} {'examples':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"rollouts-{n}.jsonl"
            write_rollouts(path, n)
            work = Path(tmp) / f"work-{n}"
            work.mkdir()
            r = measure(path, args, work)
            note = "  (killed)" if r["killed"] else ""
            print(
                f"{n:>9} {r['peak_rss_mb']:>12.0f} {r['wall_s']:>8.1f} "
                f"{r.get('examples', 0):>9}{note}",
                flush=True,
            )
            path.unlink()


if __name__ == "__main__":
    main()
