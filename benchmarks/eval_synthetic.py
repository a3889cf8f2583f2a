"""Accuracy of an integrator fitted on synthetic scenes with their true masks.

Writes ``loadcheck synth`` datasets for a fitting seed and a held-out seed into a temp folder,
fits through the integrator API (add-data + fit --masks) and scores the held-out scenes with
``predict``. Prints the CV metrics and the held-out accuracy (all three verdicts).

    python benchmarks/eval_synthetic.py [--count 400] [--held-out 250] [--seed 1] [--seed2 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from loadcheck.integrators.fitting import fit, predict
from loadcheck.integrators.store import IntegratorStore
from loadcheck.synth.dataset import write_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--held-out", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seed2", type=int, default=2)
    parser.add_argument("--size", default="480x270")
    parser.add_argument("--model-type", default="xgboost")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root / "fit", args.count, args.seed, size, progress=False)  # type: ignore[arg-type]
        write_dataset(root / "held", args.held_out, args.seed2, size, progress=False)  # type: ignore[arg-type]
        store = IntegratorStore(root / "ws", root / "repo")
        store.create("eval", model_type=args.model_type)
        store.add_data("eval", root / "fit" / "qualified.zip", root / "fit" / "unqualified.zip")
        summary = fit(store, "eval", masks_dir=root / "fit" / "masks", cv_folds=5)
        print(json.dumps({k: summary[k] for k in ("cv", "fit_seconds", "n_samples")}, indent=1))
        records = json.loads((root / "held" / "labels.json").read_text())["images"]
        results = predict(
            store, "eval", [root / "held" / r["file"] for r in records], root / "held" / "masks"
        )
        pairs = Counter(
            (r["label"], p["score_result"]) for r, p in zip(records, results, strict=True)
        )
        correct = sum(n for (a, b), n in pairs.items() if a == b)
        print(
            f"held-out seed {args.seed2}: accuracy {correct / len(records):.4f} on {len(records)}"
        )
        for (truth, got), n in sorted(pairs.items()):
            print(f"  truth {truth:17s} -> {got:17s} {n}")


if __name__ == "__main__":
    main()
