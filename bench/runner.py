"""The runner's own cost per token: its decoding thread against a bare decoding loop.

Both decode the same answer on the fake backend (no weights: a step is a
few tensor operations, so what the runner adds is not hidden behind a
model's matrix products), with the same sampling (``pick_tokens``) and the
same text stream:

- bare: the loop a benchmark would write, in this thread, with nothing else;
- runner: ``LocalRunner.submit`` and the model's thread, which checks every
  row for cancellation and its time limit, groups rows by their parameters,
  wraps each token in an ``Event`` for its reader and looks at the queue for
  requests that could join. The reader here only sleeps until the answer is
  done, so no event loop competes for the GIL (bench/chat.py measures that).

The two are taken in turns, ``--repeats`` times each, and the fastest of
each is kept (the least disturbed by the rest of the machine).
``overhead_us_per_token`` is their difference; ``overhead_ratio`` the
runner's time per token over the bare loop's. Prints one JSON line.

    .venv/bin/python bench/runner.py              # about 10 seconds
    .venv/bin/python bench/runner.py --tokens 5000 --repeats 12
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3000, help="tokens per answer")
    parser.add_argument("--repeats", type=int, default=8, help="answers per side, in turns")
    args = parser.parse_args()
    if args.tokens < 2 or args.repeats < 1:
        parser.error("--tokens must be at least 2 and --repeats at least 1")

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oasst.settings")
    import django

    django.setup()
    import torch

    from oasst.inference.backends import load_backend
    from oasst.inference.decoding import TextStream
    from oasst.inference.prompts import Conversation, build_prompt
    from oasst.inference.runner import LocalRunner, stop_token_ids
    from oasst.inference.sampling import pick_tokens
    from oasst.inference.specs import ModelSpec, parse_params

    torch.set_num_threads(1)
    tokens = args.tokens
    # Two letters repeated: every token is its own text, as a fast model's are.
    spec = ModelSpec(
        name="bench-runner",
        backend="fake",
        path=f"fake:reply=ab&repeat={tokens // 2 + 1}&context={tokens + 64}",
        context_length=tokens + 64,
    )
    params = parse_params(
        {"temperature": 1.0, "top_k": None, "top_p": None, "max_new_tokens": tokens, "seed": 1}
    )
    conversation = Conversation(turns=(("prompter", "hi"),))
    backend = load_backend(spec, max_batch=1)
    stop_ids = stop_token_ids(backend)
    prompt = build_prompt(backend.tokenizer, conversation, prompt_format="oasst", budget=64).ids

    def bare() -> float:
        """Seconds per token of the bare loop."""
        stream = TextStream(lambda ids: backend.tokenizer.decode(ids, skip_special_tokens=True))
        generators = [torch.Generator().manual_seed(1)]
        history = list(prompt)
        started = time.perf_counter()
        with torch.inference_mode():
            session = backend.start([list(prompt)])
            token = pick_tokens(
                session.logits(), params, generators=generators, histories=[history]
            )[0]
            made = 0
            while token not in stop_ids and made < tokens:
                history.append(token)
                made += 1
                stream.push(token)
                session.advance([token])
                token = pick_tokens(
                    session.logits(), params, generators=generators, histories=[history]
                )[0]
        return (time.perf_counter() - started) / made

    runner = LocalRunner(max_batch=8, threads=1)
    if not runner.load(spec, wait=30):
        raise SystemExit("the fake model did not load")

    def through_runner() -> float:
        """Seconds per token of the runner's thread (its own clock: admission to done)."""
        handle = runner.submit(spec, conversation, params, user_key="bench")
        while not handle.finished:
            time.sleep(0.01)
        done = [e for e in handle.iter_events(timeout=10)][-1]
        if done.reason != "length" or done.completion_tokens != tokens:
            raise SystemExit(f"the runner's answer ended early: {done}")
        return done.generation_s / done.completion_tokens

    bare(), through_runner()  # warm-up
    bare_s, runner_s = [], []
    for _ in range(args.repeats):
        bare_s.append(bare())
        runner_s.append(through_runner())
    runner.shutdown()
    fastest_bare, fastest_runner = min(bare_s), min(runner_s)
    print(
        json.dumps(
            {
                "bench": "runner",
                "backend": "fake",
                "tokens": tokens,
                "repeats": args.repeats,
                "bare_us_per_token": round(fastest_bare * 1e6, 2),
                "runner_us_per_token": round(fastest_runner * 1e6, 2),
                "overhead_us_per_token": round((fastest_runner - fastest_bare) * 1e6, 2),
                "overhead_ratio": round(fastest_runner / fastest_bare, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
