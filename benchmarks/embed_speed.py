#!/usr/bin/env python
"""Embedding throughput of the inference paths, the EER cost of the fast one, training speed.

    nice -n 10 .venv/bin/python benchmarks/embed_speed.py            # the shipped model
    .venv/bin/python benchmarks/embed_speed.py --quick --model-dir DIR  # a smoke run
    # the three serving paths only, batch 1 and 32, one thread (then --threads 2):
    nice -n 10 .venv/bin/python benchmarks/embed_speed.py --paths fp32,onnx_fp32,onnx_int8 --batches 1,32 \
        --threads 1 --no-eer --no-train --repeats 5

Paths measured in one process, on the same inputs, at batch 1, 32 and 64:
  fp32           eager PyTorch, model loaded once (baseline 2)
  fp32_cl        fp32 with channels-last tensors
  bf16_cl        bf16 autocast + channels-last (oneDNN uses AMX / AVX512-BF16 where the CPU has it);
                 this is ``Verifier(precision="bf16")``, the path the server can switch on
  compile_fp32 / compile_bf16   torch.compile of the same (skipped with --no-compile)
  dynamic_int8   torch.ao dynamic quantisation (only Linear layers: the ResNet's convs stay fp32)
  onnx_fp32      ONNX Runtime on the model dir's ``model.onnx`` (``SIGVERIFY_INFERENCE=onnx``/``auto``), or a
                 temporary export where the card lists none
  onnx_int8      ONNX Runtime on the card's int8 file (``SIGVERIFY_INFERENCE=onnx-int8``), or a temporary
                 static quantisation (``sigverify.onnx_export.quantize_int8``, entropy, calibrated on the
                 training writers where the data is imported, else on the benchmark's inputs: speed only).
                 Skipped with --no-onnx. Its EER cost: benchmarks/int8_check.py and the card's ``onnx.int8.check``.
Each figure is the best of --repeats timed runs (the machine is shared, the best run is the
least disturbed one); the median is kept too. The runs go round-robin over the paths (round 1 of
every path, then round 2, ...), so a burst of other work on the shared cores slows every path alike
rather than one. Batch 1 is also printed as a latency (ms per image, from the best run).

The fast path is the fastest one the server can serve (fp32 or bf16). Its EER change is
measured with ``sigverify.report.protocol_for`` (what ``sigverify evaluate`` runs) on the held-out
test writers of organized_data/{cedar,gpds} (image_pairs/splits.csv, split test):
``eer_delta_fast_path`` is the largest absolute change of a dataset's skilled-forgery EER, in
percentage points, and ``eer_delta_fast_path_pooled`` the change over both datasets' writers
together. Each dataset's entry also counts the three-way decisions (the card's accept and reject
thresholds) that the fast path changes, and the largest change of a calibrated score.

``train_img_per_s``: timed training steps (forward, loss, backward, AdamW) at the shipped
recipe's input size and batch, with the recipe's bf16 autocast + channels-last; the mean
``images_per_s`` of the shipped card's training history is reported beside it.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import benchlib  # noqa: E402  (puts backend/ on sys.path)

SERVABLE = {"fp32": "fp32", "bf16_cl": "bf16"}  # path name -> SIGVERIFY_INFERENCE_PRECISION


def make_paths(model, card, compile_paths: bool):
    """name -> callable(batch uint8 array list) -> embeddings."""
    from sigverify.inference import Verifier, bf16_supported

    paths = {}
    fp32 = Verifier(copy.deepcopy(model).eval(), card, precision="fp32")
    paths["fp32"] = fp32.embed_arrays

    cl_model = copy.deepcopy(model).eval().to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def fp32_cl(arrays):
        x = _tensor(arrays).contiguous(memory_format=torch.channels_last)
        return cl_model(x).numpy()

    paths["fp32_cl"] = fp32_cl
    if bf16_supported():
        bf16 = Verifier(copy.deepcopy(model).eval(), card, precision="bf16")
        assert bf16.precision == "bf16"
        paths["bf16_cl"] = bf16.embed_arrays

    with warnings.catch_warnings():  # deprecated in favour of torchao, which is not installed
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).eval(), {torch.nn.Linear}, dtype=torch.qint8
        )

    @torch.inference_mode()
    def dynamic_int8(arrays):
        return quantized(_tensor(arrays)).numpy()

    paths["dynamic_int8"] = dynamic_int8

    if compile_paths:
        for name, bf16_on in (("compile_fp32", False), ("compile_bf16", True)):
            if bf16_on and not bf16_supported():
                continue
            compiled = torch.compile(copy.deepcopy(model).eval().to(memory_format=torch.channels_last))

            def run(arrays, compiled=compiled, bf16_on=bf16_on):
                x = _tensor(arrays).contiguous(memory_format=torch.channels_last)
                with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_on):
                    return compiled(x).float().numpy()

            paths[name] = run
    return paths


def onnx_paths(model, card, model_dir: Path, tmp: Path, arrays, threads: int) -> tuple[dict, dict]:
    """(name -> callable, name -> where its file came from) for ONNX Runtime fp32 and int8."""
    from sigverify.onnx_export import ONNX_FILE, calibration_arrays, export_fp32, quantize_int8
    from sigverify.runtime import OnnxRuntime, set_thread_limit
    from sigverify.weights import sha256_file

    set_thread_limit(threads)
    files, sources = {}, {}
    for kind in ("fp32", "int8"):
        entry = getattr(card.onnx, kind) if card.onnx else None
        if entry is not None and (model_dir / entry.file).is_file():
            files[kind] = (model_dir / entry.file, entry.sha256)
            sources[kind] = f"{entry.file} from the card (usable: {entry.usable})"
    if "fp32" not in files:
        export_fp32(model, tmp / ONNX_FILE, card.size)
        files["fp32"] = (tmp / ONNX_FILE, sha256_file(tmp / ONNX_FILE))
        sources["fp32"] = "temporary export"
    if "int8" not in files:
        try:
            organized = Path(os.environ.get("SIGVERIFY_ORGANIZED_DATA") or benchlib.REPO / "organized_data")
            datasets = [organized / n for n in ("cedar", "gpds", "bengali", "hindi") if (organized / n).is_dir()]
            calibration, _ = calibration_arrays(datasets, benchlib.REPO / "image_pairs" / "splits.csv", card.size, 64)
            sources["int8"] = f"temporary quantisation, calibrated on {len(calibration)} training writers' images"
        except Exception:  # no imported data: calibrate on the inputs; the speed is the same
            calibration = arrays
            sources["int8"] = "temporary quantisation, calibrated on the benchmark inputs (speed only)"
        quantize_int8(files["fp32"][0], tmp / "model.int8.onnx", calibration)
        files["int8"] = (tmp / "model.int8.onnx", sha256_file(tmp / "model.int8.onnx"))
    paths = {}
    for kind, (path, sha256) in files.items():
        paths[f"onnx_{kind}"] = OnnxRuntime(path, sha256, card.embedding_dim, kind=kind).embed_arrays
    return paths, sources


def _tensor(arrays) -> torch.Tensor:
    from sigverify.preprocess import to_float

    return torch.from_numpy(np.stack([to_float(a) for a in arrays])).unsqueeze(1)


def time_path(fn, arrays, batch: int, min_seconds: float, repeats: int, warmup: bool = True) -> dict:
    """images/s: best and median of ``repeats`` runs, each at least ``min_seconds`` long."""
    chunk = arrays[:batch]
    started = time.perf_counter()
    if warmup:
        fn(chunk)  # warm-up (oneDNN primitives, compiled graphs, ONNX Runtime sessions)
        fn(chunk)
    warmup_s = time.perf_counter() - started
    rates = []
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            fn(chunk)
            n += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_seconds and n >= 2:
                break
        rates.append(n * batch / elapsed)
    return {
        "best": round(max(rates), 1),
        "median": round(statistics.median(rates), 1),
        "runs": [round(r, 1) for r in rates],
        "warmup_s": round(warmup_s, 2),
    }


def time_round_robin(paths: dict, arrays, batches, min_seconds: float, repeats: int) -> dict:
    """``time_path`` of every path and batch, ``repeats`` rounds taken in turn over the paths."""
    runs: dict = {name: {str(b): [] for b in batches} for name in paths}
    failed: dict = {}
    for round_index in range(repeats):
        for name, fn in paths.items():
            for batch in batches:
                if (name, batch) in failed:
                    continue
                try:
                    fig = time_path(fn, arrays, batch, min_seconds, 1, warmup=round_index == 0)
                except Exception as exc:  # a path this torch build cannot run is reported, not fatal
                    failed[(name, batch)] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
                    continue
                runs[name][str(batch)].append(fig)
    out: dict = {}
    for name, by_batch in runs.items():
        out[name] = {}
        for batch in batches:
            figs = by_batch[str(batch)]
            if (name, batch) in failed:
                out[name][str(batch)] = failed[(name, batch)]
                continue
            rates = [r for f in figs for r in f["runs"]]
            out[name][str(batch)] = {
                "best": round(max(rates), 1),
                "median": round(statistics.median(rates), 1),
                "runs": rates,
                "warmup_s": figs[0]["warmup_s"],
            }
    return out


def agreement(paths, arrays, reference="fp32") -> dict:
    """Max cosine distance between each path's embeddings and fp32's (same images)."""
    base = paths[reference](arrays)
    out = {}
    for name, fn in paths.items():
        emb = fn(arrays)
        emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        cos = (emb * base).sum(axis=1)
        out[name] = round(float(1 - cos.min()), 6)
    return out


def eer_delta(model_dir: Path, fast_precision: str, references: int) -> dict:
    """Skilled EER on the held-out writers, fp32 against the fast path, per dataset and pooled.

    With 10 CEDAR test writers one query changing rank near the EER moves the EER by about
    0.35 points, so the figures also count the three-way decisions the fast path changes.
    """
    from sigverify import metrics
    from sigverify.report import protocol_for
    from sigverify.scoring import decide

    split_file = benchlib.REPO / "image_pairs" / "splits.csv"
    data_dirs = [benchlib.REPO / "organized_data" / name for name in ("cedar", "gpds")]
    missing = [str(p) for p in [split_file, *data_dirs] if not p.exists()]
    if missing:
        return {"error": f"missing: {', '.join(missing)}"}
    result, pooled = {}, {p: {"genuine": [], "skilled": []} for p in ("fp32", fast_precision)}
    for data in data_dirs:
        row, scores = {}, {}
        for precision in ("fp32", fast_precision):
            started = time.perf_counter()
            verifier, ps = protocol_for(
                str(data), None, str(model_dir), references, str(split_file), "test", precision=precision
            )
            gen, skl, rnd = ps.calibrated(verifier.scorer)
            scores[precision] = np.concatenate([gen, skl, rnd])
            pooled[precision]["genuine"].append(gen)
            pooled[precision]["skilled"].append(skl)
            row[precision] = {
                "skilled_eer_pct": round(100 * metrics.eer(gen, skl)[0], 3),
                "random_eer_pct": round(100 * metrics.eer(gen, rnd)[0], 3),
                "writers": len(ps.genuine),
                "seconds": round(time.perf_counter() - started, 1),
            }
        row["skilled_eer_delta_points"] = round(
            abs(row[fast_precision]["skilled_eer_pct"] - row["fp32"]["skilled_eer_pct"]), 3
        )
        decisions = [[decide(v, verifier.accept, verifier.reject) for v in scores[p]] for p in ("fp32", fast_precision)]
        row["queries"] = len(decisions[0])
        row["decisions_changed"] = sum(a != b for a, b in zip(*decisions, strict=True))
        row["max_score_change"] = round(float(np.abs(scores[fast_precision] - scores["fp32"]).max()), 6)
        result[data.name] = row
    result["max_delta_points"] = max(r["skilled_eer_delta_points"] for r in result.values())
    pooled_eer = {
        p: 100 * metrics.eer(np.concatenate(v["genuine"]), np.concatenate(v["skilled"]))[0] for p, v in pooled.items()
    }
    result["pooled_delta_points"] = round(abs(pooled_eer[fast_precision] - pooled_eer["fp32"]), 3)
    return result


def training_speed(model_dir: Path, card, steps: int, threads: int) -> dict:
    """Timed training steps of the shipped architecture at the recipe's size and batch."""
    from sigverify.inference import bf16_supported
    from sigverify.model import SignatureEmbedder
    from sigverify.options import TrainConfig

    # The recipe's batch shape; a card from before these options were recorded: TrainConfig's defaults.
    recipe = card.recipe.model_dump() if card.recipe else {}
    shape = {k: recipe.get(k, TrainConfig.model_fields[k].default) for k in TrainConfig.model_fields}
    height, width = card.size
    batch = shape["writers_per_batch"] * (shape["genuine_per_writer"] + shape["forged_per_writer"])
    bf16 = bf16_supported()
    model = SignatureEmbedder(embedding_dim=card.embedding_dim).to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    x = torch.rand(batch, 1, height, width).contiguous(memory_format=torch.channels_last)
    labels = torch.arange(batch) % 12

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            feats = model.features(x)
        emb = model.embed_features(feats)
        same = (labels[:, None] == labels[None, :]).float()
        loss = ((emb @ emb.t() - same) ** 2).mean()  # a stand-in metric loss of the same cost class
        loss.backward()
        optimizer.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    measured = steps * batch / (time.perf_counter() - t0)
    history = [h.get("images_per_s") for h in recipe.get("history", []) if h.get("images_per_s")]
    return {
        "measured_img_per_s": round(measured, 1),
        "batch": batch,
        "input_size": [height, width],
        "bf16_autocast": bf16,
        "steps": steps,
        "torch_threads": threads,
        "card_history_mean_img_per_s": round(statistics.mean(history), 1) if history else None,
        "card_history_max_img_per_s": round(max(history), 1) if history else None,
        "note": "measured: model forward/backward/AdamW only (no data loading or augmentation); "
        "card: the real training run's epochs, which include those and shared the CPU",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=benchlib.shipped_model_dir())
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the machine has 2 cores)")
    parser.add_argument("--batches", default="1,32,64")
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (slow to compile)")
    parser.add_argument("--no-eer", action="store_true", help="skip the held-out EER comparison")
    parser.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime paths")
    parser.add_argument(
        "--paths", default="", help="only these paths, comma-separated (e.g. fp32,onnx_fp32,onnx_int8; fp32 is kept)"
    )
    parser.add_argument("--no-train", action="store_true", help="skip the training-speed steps")
    parser.add_argument("--references", type=int, default=5)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke run: short timings, no compile, no EER")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.quick:
        args.min_seconds, args.repeats, args.no_compile, args.no_eer, args.train_steps = 0.2, 1, True, True, 1

    from sigverify.inference import limit_threads
    from sigverify.weights import load_model

    limit_threads(args.threads)
    model, card = load_model(args.model_dir)
    model.eval()
    height, width = card.size
    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)
    arrays = [(rng.random((height, width)) < 0.08).astype(np.uint8) * 255 for _ in range(max(batches))]
    machine = benchlib.machine_info()
    print(
        f"model {card.name} {card.version} input {height}x{width}; {machine['cpu']}, "
        f"{args.threads} torch threads, load {machine['load_average_1m']}"
    )

    wanted = {p.strip() for p in args.paths.split(",") if p.strip()} | {"fp32"} if args.paths else None
    paths = make_paths(model, card, compile_paths=not args.no_compile)
    onnx_sources = {}
    tmp = tempfile.TemporaryDirectory(prefix="embed-speed-onnx-")
    if not args.no_onnx and (wanted is None or wanted & {"onnx_fp32", "onnx_int8"}):
        onnx, onnx_sources = onnx_paths(model, card, Path(args.model_dir), Path(tmp.name), arrays, args.threads)
        paths.update(onnx)
    if wanted is not None:
        paths = {name: fn for name, fn in paths.items() if name in wanted}
    throughput = time_round_robin(paths, arrays, batches, args.min_seconds, args.repeats)
    for name, by_batch in throughput.items():
        for batch, fig in by_batch.items():
            latency = f", {1000 / fig['best']:.1f} ms per image" if "best" in fig and batch == "1" else ""
            print(
                f"  {name:<13} batch {batch:>3}: "
                + (f"{fig['best']:>8.1f} img/s (median {fig['median']}){latency}" if "best" in fig else fig["error"])
            )
    drift = agreement({k: v for k, v in paths.items()}, arrays[:32])
    print("  max cosine distance to fp32 embeddings: " + ", ".join(f"{k} {v:.2e}" for k, v in drift.items()))

    largest = max(batches)

    def rate(name, batch=largest):
        return throughput.get(name, {}).get(str(batch), {}).get("best", 0.0)

    servable = [n for n in SERVABLE if n in throughput and rate(n)]
    fast = max((n for n in servable if n != "fp32"), key=rate, default="fp32")
    fast_precision = SERVABLE[fast]
    fp32_rate = rate("fp32")
    fast_rate = rate(fast)

    eer = (
        {"skipped": True}
        if args.no_eer or fast_precision == "fp32"
        else eer_delta(args.model_dir, fast_precision, args.references)
    )
    if "max_delta_points" in eer:
        print(
            f"  skilled EER fp32 vs {fast_precision} on held-out writers: "
            + "; ".join(
                f"{k} {v['fp32']['skilled_eer_pct']}% vs {v[fast_precision]['skilled_eer_pct']}% "
                f"({v['decisions_changed']} of {v['queries']} decisions changed)"
                for k, v in eer.items()
                if isinstance(v, dict)
            )
            + f" -> max change {eer['max_delta_points']} points, pooled {eer['pooled_delta_points']}"
        )
    elif "error" in eer:
        print(f"  EER comparison not run: {eer['error']}")

    if args.no_train:
        train = {"skipped": True, "measured_img_per_s": None}
    else:
        train = training_speed(args.model_dir, card, args.train_steps, args.threads)
        print(
            f"  training: {train['measured_img_per_s']} img/s measured (batch {train['batch']}), "
            f"card history mean {train['card_history_mean_img_per_s']}"
        )

    figures = {
        "embed_fp32_img_per_s": fp32_rate,
        "embed_fast_img_per_s": fast_rate,
        "embed_fast_path": fast,
        "embed_fast_precision_setting": fast_precision,
        "embed_speedup_vs_fp32": round(fast_rate / fp32_rate, 2) if fp32_rate else None,
        "embed_batch": max(batches),
        **(
            {"embed_fp32_img_per_s_batch32": rate("fp32", 32), "embed_fast_img_per_s_batch32": rate(fast, 32)}
            if 32 in batches
            else {}
        ),
        **{f"embed_{name}_img_per_s": rate(name) for name in ("onnx_fp32", "onnx_int8") if name in throughput},
        **{
            f"embed_{name}_batch1_ms": round(1000 / rate(name, 1), 2)
            for name in ("fp32", "onnx_fp32", "onnx_int8")
            if 1 in batches and rate(name, 1)
        },
        "train_img_per_s": train["measured_img_per_s"],
        "eer_delta_fast_path_pooled": eer.get("pooled_delta_points"),
        "eer_delta_fast_path": eer.get("max_delta_points"),
    }
    details = {
        "command": "benchmarks/embed_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "measured_at": benchlib.now_iso(),
        "machine": {
            **machine,
            "load_average_1m_end": round(os.getloadavg()[0], 2),
            "shared": "other work ran on the same 2 cores; figures are the best of repeats",
        },
        "model": {
            "dir": str(args.model_dir),
            "name": card.name,
            "version": card.version,
            "sha256": card.sha256,
            "input_size": card.input_size,
        },
        "torch_threads": args.threads,
        "throughput_img_per_s": throughput,
        "max_cosine_distance_to_fp32": drift,
        "eer": eer,
        "training": train,
        "onnxruntime": {"files": onnx_sources, "threads": args.threads} if onnx_sources else "not measured (--no-onnx)",
    }
    tmp.cleanup()
    if onnx_sources:
        print(
            f"ONNX Runtime at batch {largest}: fp32 {rate('onnx_fp32')} img/s, int8 {rate('onnx_int8')} img/s "
            f"(PyTorch fp32 {fp32_rate}); files: {onnx_sources}"
        )
    print(
        f"fast path {fast} ({fast_precision}): {fast_rate} img/s vs fp32 {fp32_rate} at batch {max(batches)} "
        f"-> x{figures['embed_speedup_vs_fp32']}; EER change {figures['eer_delta_fast_path']} points"
    )
    if not args.no_write:
        print(
            f"-> {benchlib.merge_results(figures, details, script='embed_speed', prefer=('embed_fp32_img_per_s', 'max'))}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
