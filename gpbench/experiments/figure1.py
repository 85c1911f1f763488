"""Gulrajani et al. 2017, Figure 1, on CPU: critics trained against a fixed "generator" (real data + N(0, 1)).

(a) value surfaces of 3-layer toy critics under weight clipping and gradient penalty on 8gaussians,
    25gaussians and swissroll (clipping row above GP row, 128x128 grid over [-3, 3]^2), and how well each
    follows the data: P(D(x) > D(x')) for data points x and x' = x rotated about the origin, at the same
    radius, to where it lies farthest from the data (between modes or spiral arms);
(b) left: per layer of a 12-layer ReLU critic on swissroll, clipping c in {0.1, 0.01, 0.001} vs GP, the norm
    of the critic loss's gradient with respect to that layer's output (the back-propagated signal, the paper's
    quantity), and, as a second panel, with respect to its weights (flat across depth by construction);
(b) right: the weights of (a)'s swissroll critics at the start and after training, clipping c = 0.01 vs GP, and
    a clipped critic started with every weight inside +-c/2 (WEIGHTS_DATASET).
Every experiment runs once per seed; figure1.json holds each seed's numbers, the claims their spread.
Optimizers, lambda and the clip value come from the method presets (toy / deep-mlp arch).
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.ticker import MaxNLocator
import numpy as np
import torch
from scipy.spatial import cKDTree

from gpbench.plotting import plt
from gpbench.paper import (FIGURE1_CLIP_VALUES, FIGURE1_DEEP_DATASET, FIGURE1_DEFAULTS, FIGURE1_METHODS,
                           FIGURE1_WEIGHTS, preset)
from gpbench.training.config import model_options
from gpbench.data import DATASETS, FIGURE1_DATASETS, make_stream, toy
from gpbench.errors import ConfigError
from gpbench.training.losses import WeightClipping, discriminator_loss
from gpbench.models import build
from gpbench.models.signal import LayerOutputs, at_clip_fraction, layer_gradients
from gpbench.training.optim import build_optimizer
from gpbench.penalties import build_penalty
from gpbench.progress import progress_bar
from gpbench.fileio import save_figure_atomic, write_text_atomic
from gpbench.seeds import stream_seed

GRID_POINTS, GRID_RANGE = 128, 3.0
NORM_FLOOR = 1e-45                  # float32's smallest subnormal: a gradient norm of exactly 0 counts as this
# Figure 1a's measure: 2,000 data points, each rotated about the origin to the angle (of 72) where it lies
# farthest from 20,000 reference data points; pairs closer than 0.1 to the data after the rotation are dropped
# (0.1 is 3 noise stds of swissroll, 5 mode stds of 25gaussians, in model coordinates).
FOLLOW_POINTS, FOLLOW_REFERENCE, FOLLOW_ANGLES, FOLLOW_MIN_DISTANCE = 2000, 20_000, 72, 0.1


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def settings_from(user: dict | None) -> dict:
    user = dict(user or {})
    unknown = sorted(set(user) - set(FIGURE1_DEFAULTS))
    if unknown:
        raise ConfigError(f"figure1.{unknown[0]}: unknown key; allowed: {', '.join(FIGURE1_DEFAULTS)}")
    settings = {**FIGURE1_DEFAULTS, **user}
    for key, value in settings.items():
        if key == "seeds":
            if not (isinstance(value, list) and value and all(_whole(v) and v >= 0 for v in value)
                    and len(set(value)) == len(value)):
                raise ConfigError(f"figure1.seeds: expected a non-empty list of distinct whole numbers >= 0, "
                                  f"got {value!r}")
        elif not _whole(value) or value < 1:
            raise ConfigError(f"figure1.{key}: expected a whole number >= 1, got {value!r}")
    if settings["average_last"] > settings["deep_steps"]:
        raise ConfigError("figure1.average_last must not exceed figure1.deep_steps")
    return settings


def _critic_setup(arch: str, method: str, width: int, clip: float | None = None):
    """A fresh critic with its preset optimizer, penalty and clipping (clip overrides the preset's c)."""
    values = preset(arch, method)
    _, critic = build(arch, **model_options({**values, "dim": width}))
    optimizer = build_optimizer(values["optimizer"], critic, values["lr"], values.get("betas", (0.9, 0.999)))
    penalty = build_penalty(values.get("penalty", {"kind": "none"}))
    clip_value = clip if clip is not None else values.get("clip")
    clipping = WeightClipping(clip_value) if clip_value else None
    return critic, optimizer, penalty, clipping


def linear_weights(critic: torch.nn.Module) -> np.ndarray:
    """Every Linear layer's weights, flattened into one array."""
    return torch.cat([m.weight.detach().flatten() for m in critic.modules() if isinstance(m, torch.nn.Linear)]).numpy()


def train_fixed_generator_critic(dataset: str, method: str, steps: int, width: int, batch_size: int, seed: int,
                                 arch: str = "toy", clip: float | None = None, record_last: int = 0,
                                 progress: bool = False, initial_bound: float | None = None
                                 ) -> tuple[torch.nn.Module, dict[str, np.ndarray]]:
    """Train a critic on real vs real + N(0, 1). Returns the critic and, when ``record_last`` > 0, the
    per-layer gradient norms of the WGAN critic loss (penalty excluded) over the last ``record_last`` steps:
    ``{"output": steps x layers, "weight": steps x layers}``, layer 1 the input layer; ``"initial_weights"``:
    the Linear weights as training starts (after the first clamp of a clipped critic). ``initial_bound``:
    initialise the Linear weights U[-bound, bound] instead of tflib's init."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    critic, optimizer, penalty, clipping = _critic_setup(arch, method, width, clip)
    if initial_bound is not None:
        with torch.no_grad():
            for module in critic.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.uniform_(-initial_bound, initial_bound)
    if clipping:
        clipping.clamp(critic)
    initial_weights = linear_weights(critic)
    stream, _ = make_stream(dataset, batch_size, seed)
    captured = LayerOutputs(critic)
    weights = [layer.weight for layer in captured.layers]
    recorded = {"output": [], "weight": []}
    with captured:
        for step in progress_bar(range(steps), desc=f"{dataset} {method}" + (f" c={clip}" if clip else ""),
                                 disable=not progress, leave=False):
            real = torch.from_numpy(stream.next())
            fake = real + torch.from_numpy(rng.randn(*real.shape).astype(np.float32))
            if clipping:
                clipping.before_step(critic)
            captured.clear()
            loss = discriminator_loss("wgan", critic(real), critic(fake))
            outputs = list(captured.outputs)
            total = loss + penalty(critic, real, fake, step=step) if penalty.on_critic_loss else loss
            optimizer.zero_grad(set_to_none=True)
            if step >= steps - record_last:
                output_norms, weight_norms = layer_gradients(loss, outputs, weights)
                recorded["output"].append(output_norms)
                recorded["weight"].append(weight_norms)
            total.backward()
            optimizer.step()
            if clipping:
                clipping.after_step(critic)
    return critic, {**{key: np.array(values) for key, values in recorded.items()}, "initial_weights": initial_weights}


def value_surface(critic: torch.nn.Module) -> np.ndarray:
    axis = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_POINTS, dtype=np.float32)
    points = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    with torch.no_grad():
        return critic(torch.from_numpy(points)).numpy().reshape(GRID_POINTS, GRID_POINTS)


def off_data_pairs(dataset: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(data points x, x') with x' = x rotated about the origin, at the same radius, to where it lies farthest
    from the data; pairs whose x' stays closer than FOLLOW_MIN_DISTANCE to the data are dropped."""
    points = toy.sample(dataset, FOLLOW_POINTS, stream_seed(seed, "figure1_follow_points")).astype(np.float64)
    reference = cKDTree(toy.sample(dataset, FOLLOW_REFERENCE, stream_seed(seed, "figure1_follow_reference")))
    farthest, distance = np.zeros_like(points), np.zeros(len(points))
    for angle in np.linspace(0.0, 2 * np.pi, FOLLOW_ANGLES, endpoint=False)[1:]:
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        rotated = points @ rotation.T
        gap, _ = reference.query(rotated)
        better = gap > distance
        farthest[better], distance[better] = rotated[better], gap[better]
    kept = distance >= FOLLOW_MIN_DISTANCE
    return points[kept].astype(np.float32), farthest[kept].astype(np.float32)


def follows_data(critic: torch.nn.Module, pairs: tuple[np.ndarray, np.ndarray]) -> float:
    """P(D(x) > D(x')): 1 for a critic that peaks on the data, about 0.5 for one that only sees the radius."""
    with torch.no_grad():
        on, off = (critic(torch.from_numpy(points)).numpy() for points in pairs)
    return float((on > off).mean())


def gradient_trend(log_norms: list[float], zero_layers: list[int]) -> dict:
    """How the back-propagated gradient changes from the output layer toward the input layer: the per-layer
    factor from a least-squares fit of log10 norm against depth (layers whose gradient is exactly 0 left out),
    the total factor from output to input (0 when the input layer gets no gradient at all) and the max/min
    ratio over the layers."""
    layers = np.arange(1, len(log_norms) + 1)
    alive = np.array([layer not in zero_layers for layer in layers])
    slope = np.polyfit(layers[alive], np.asarray(log_norms)[alive], 1)[0] if alive.sum() > 1 else 0.0
    total = 0.0 if 1 in zero_layers else 10 ** (log_norms[0] - log_norms[-1])
    return {"per_layer_factor": float(10 ** -slope), "output_to_input_factor": float(total),
            "max_min_ratio": float(10 ** (max(log_norms) - min(log_norms)))}


def _mean_log10(norms: np.ndarray) -> list[float]:
    return [float(v) for v in np.log10(np.maximum(norms, NORM_FLOOR)).mean(axis=0)]


def _method_name(method: str) -> str:
    return "weight clipping" if method == "wgan-clip" else "gradient penalty"


def _mean_std(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    values = scale * np.asarray(values, dtype=float)
    spread = f" +- {values.std(ddof=1):.{digits}f}" if len(values) > 1 else ""
    return f"{values.mean():.{digits}f}{spread}"


def _toy_critics(settings: dict, seed: int, progress: bool) -> tuple[dict, dict, dict, dict]:
    """Fig. 1a for one seed: how well each toy critic follows the data and its value surface; and Fig. 1b right
    on the swissroll critics: their weights at the start and after training, with a third clipped critic
    started inside +-c/2 (WEIGHT_CRITICS). Returns (follows, surfaces, weight summaries, weight samples)."""
    follows, surfaces, weights, samples = {}, {}, {}, {}
    for dataset in FIGURE1_DATASETS:
        pairs = off_data_pairs(dataset, seed)
        for method, initial_bound in tuple((method, None) for method in FIGURE1_METHODS) + (
                (("wgan-clip", INSIDE_INIT_FRACTION * WEIGHTS_C),) if dataset == WEIGHTS_DATASET else ()):
            critic, recorded = train_fixed_generator_critic(dataset, method, settings["critic_steps"],
                                                            settings["width"], settings["batch_size"], seed,
                                                            progress=progress, initial_bound=initial_bound)
            if dataset == WEIGHTS_DATASET:
                name = INSIDE_INIT if initial_bound else f"clip c={WEIGHTS_C:g}" if method == "wgan-clip" \
                    else "gradient penalty"
                initial, final = recorded["initial_weights"], linear_weights(critic)
                weights[name] = {**_weight_summary(final, WEIGHTS_C), "initial": _weight_summary(initial, WEIGHTS_C)}
                samples[name] = (initial, final)
            if initial_bound is None:
                follows[f"{dataset}/{method}"] = {"follows_data": follows_data(critic, pairs),
                                                  "pairs": len(pairs[0])}
                surfaces[f"{dataset}/{method}"] = value_surface(critic)
    return follows, surfaces, weights, samples

def _plot_value_surfaces(surfaces: dict, per_seed: list[dict], path: Path) -> None:
    """The first seed's surfaces; each title gives the follows-the-data measure over every seed."""
    seed = per_seed[0]["seed"]
    figure, axes = plt.subplots(2, 3, figsize=(12, 8), dpi=90)
    axis = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_POINTS)
    for column, dataset in enumerate(FIGURE1_DATASETS):
        data = toy.sample(dataset, 1000, seed)
        for row, method in enumerate(FIGURE1_METHODS):
            key = f"{dataset}/{method}"
            panel = axes[row, column]
            panel.contourf(axis, axis, surfaces[key], levels=20, cmap="viridis")
            panel.scatter(data[:, 0], data[:, 1], s=2, c="white", alpha=0.6)
            panel.set_title(f"{dataset}, {_method_name(method)}\nP(D(data) > D(same radius, off the data)) = "
                            f"{_mean_std([run['surfaces'][key]['follows_data'] for run in per_seed])}", fontsize=9)
            panel.set_xticks([])
            panel.set_yticks([])
    figure.suptitle("Value surfaces of critics trained against real + N(0,1) (cf. Gulrajani et al. Fig. 1a); "
                    f"surfaces of seed {seed}, P mean +- std over {len(per_seed)} seeds", fontsize=10)
    _save(figure, path)


def _weight_summary(values: np.ndarray, c: float) -> dict:
    """The fraction of weights within 1 % of +-c, their standard deviation and largest magnitude."""
    return {"at_clip": at_clip_fraction(values, c),
            "std": float(values.std()), "max_abs": float(np.abs(values).max())}


# Fig. 1b right, measured on Fig. 1a's 3-layer swissroll critics (the paper does not say which critic it shows)
# and judged where it is not true at step 0: tflib's init puts 95 % of their weights beyond +-0.01, so clamping
# alone piles them at +-c; a third clipped critic starts with every weight inside +-c/2, none there. (The
# 12-layer critic started inside +-c/2 cannot learn at all: its back-propagated signal is ~1e-16, Fig. 1b left.)
WEIGHTS_DATASET, WEIGHTS_C = FIGURE1_WEIGHTS
INSIDE_INIT_FRACTION = 0.5
INSIDE_INIT = "clip c=0.01, init inside +-c/2"


def _deep_critics(settings: dict, seed: int, progress: bool) -> dict:
    """Fig. 1b left for one seed: per-layer gradient norms (layer outputs and weights) of the 12-layer critic
    under clipping c in FIGURE1_CLIP_VALUES and GP, and the layers whose gradient is exactly 0."""
    results = {"layer_output_gradient_norms": {}, "layer_weight_gradient_norms": {}, "zero_gradient_layers": {}}
    for method, clip in [("wgan-clip", c) for c in FIGURE1_CLIP_VALUES] + [("wgan-gp", None)]:
        name = f"clip c={clip:g}" if clip else "gradient penalty"
        _, recorded = train_fixed_generator_critic(FIGURE1_DEEP_DATASET, method, settings["deep_steps"], settings["deep_width"],
                                                   settings["batch_size"], seed, arch="deep-mlp", clip=clip,
                                                   record_last=settings["average_last"], progress=progress)
        results["layer_output_gradient_norms"][name] = _mean_log10(recorded["output"])
        results["layer_weight_gradient_norms"][name] = _mean_log10(recorded["weight"])
        results["zero_gradient_layers"][name] = [int(i) + 1
                                                 for i in np.flatnonzero((recorded["output"] == 0).all(axis=0))]
    return results

def _plot_weights(samples: dict, per_seed: list[dict], path: Path) -> None:
    """A histogram per critic of the first seed: its weights at the start (grey) and after training (blue), each
    on its own range; the titles give the fraction at +-c over every seed."""
    figure, axes = plt.subplots(1, len(samples), figsize=(5.2 * len(samples), 3.8), dpi=100)
    for panel, (name, (initial, final)) in zip(np.atleast_1d(axes), samples.items()):
        bins = np.linspace(min(initial.min(), final.min()), max(initial.max(), final.max()), 81)
        panel.hist(initial, bins=bins, color="0.6", alpha=0.7, label="at the start")
        panel.hist(final, bins=bins, color="tab:blue", alpha=0.7, label="after training")
        panel.set_title(f"{name}\nat +-0.01 (mean +- std, {len(per_seed)} seeds): "
                        f"{_at_clip_change([run['weights'][name] for run in per_seed])}", fontsize=9)
        panel.set_xlabel(f"weight value (seed {per_seed[0]['seed']})")
        panel.set_ylabel("weights (log scale: the few far ones show)")
        panel.set_yscale("log")
        panel.xaxis.set_major_locator(MaxNLocator(4))
        panel.tick_params(labelsize=8)
        panel.legend(fontsize=7)
    figure.suptitle(f"Weights of the 3-layer {WEIGHTS_DATASET} critics, weight clipping vs gradient penalty "
                    "(cf. Fig. 1b right)", fontsize=10)
    _save(figure, path)


def _plot_gradient_norms(per_seed: list[dict], path: Path) -> None:
    """Per layer, the mean over seeds of log10 norm (line) and the seeds' range (band)."""
    titles = {"layer_output_gradient_norms": "d loss / d (layer output): the back-propagated signal (Fig. 1b left)",
              "layer_weight_gradient_norms": "d loss / d (layer weights): flat by construction"}
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=100)
    for panel, kind in zip(axes, titles):
        for name in per_seed[0][kind]:
            values = np.array([run[kind][name] for run in per_seed])
            layers = np.arange(1, values.shape[1] + 1)
            line, = panel.semilogy(layers, 10 ** values.mean(axis=0), marker="o", label=name)
            panel.fill_between(layers, 10 ** values.min(axis=0), 10 ** values.max(axis=0), color=line.get_color(),
                               alpha=0.2, linewidth=0)
            zero = values.max(axis=0) <= np.log10(NORM_FLOOR)          # exactly 0 in every seed
            panel.plot(layers[zero], np.full(zero.sum(), NORM_FLOOR), linestyle="none", marker="x", color="black",
                       markersize=9, zorder=5, label=f"exactly 0 (drawn at {NORM_FLOOR:g})" if zero.any() and
                       not any(h.get_label().startswith("exactly 0") for h in panel.get_lines()) else None)
        panel.set_xlim(len(layers) + 0.5, 0.5)                      # output layer on the left, as the paper
        panel.set_xticks(layers)
        panel.set_xlabel(f"critic layer ({len(layers)} = output, 1 = input)")
        panel.set_ylabel("gradient norm (log scale)")
        panel.set_title(titles[kind], fontsize=9)
        panel.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    axes[0].text(0.02, 0.02, f"line: mean of log10 over {len(per_seed)} seeds; band: the seeds' range",
                 transform=axes[0].transAxes, fontsize=7)
    axes[1].text(0.02, 0.02, "||dL/dW_k|| = ||delta_k|| ||h_(k-1)||: the signal's decay and the activations' growth\n"
                 "cancel, so weight gradients stay level across depth and cannot show the claim.",
                 transform=axes[1].transAxes, fontsize=7, va="bottom")
    figure.suptitle("12-layer ReLU critic on swissroll, weight clipping vs gradient penalty", fontsize=10)
    _save(figure, path)


def _save(figure, path: Path) -> None:
    figure.tight_layout()
    save_figure_atomic(figure, path)
    plt.close(figure)


def run_experiments(settings: dict, out_dir: Path, plots_dir: Path, progress: bool = True) -> dict:
    """All three experiments for every seed; writes figure1.json into ``out_dir`` and the figure1_*.png plots
    (surfaces and weight histograms of the first seed, numbers over every seed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    per_seed, first_seed = [], None
    for seed in settings["seeds"]:
        follows, surfaces, weights, weight_samples = _toy_critics(settings, seed, progress)
        per_seed.append({"seed": seed, "surfaces": follows, "weights": weights,
                         **_deep_critics(settings, seed, progress)})
        first_seed = first_seed or (surfaces, weight_samples)
    _plot_value_surfaces(first_seed[0], per_seed, plots_dir / "figure1_value_surfaces.png")
    _plot_gradient_norms(per_seed, plots_dir / "figure1_gradient_norms.png")
    _plot_weights(first_seed[1], per_seed, plots_dir / "figure1_weights.png")
    results = {"settings": settings, "seeds": per_seed}
    write_text_atomic(out_dir / "figure1.json", json.dumps(results, indent=1))
    return results

# --- claims ----------------------------------------------------------------------------------------------

EXPLODE_VANISH_FACTOR = 10.0      # one decade from the output to the input layer (the paper's curves span many)
FLAT_MAX_MIN_RATIO = 10.0         # GP: every layer within one decade of every other
FOLLOWS_DATA_MIN = 0.6            # a critic that follows the data prefers on-data points clearly over chance
FOLLOWS_DATA_MARGIN = 0.1         # ... and by 0.1 more than the clipped critic (about 9 standard errors here)


def _trend_text(trend: dict, zero_layers: list[int]) -> str:
    total = trend["output_to_input_factor"]
    return (f"per layer x{trend['per_layer_factor']:.3g} toward the input (fit of log-norm on depth), "
            f"output-to-input factor {'0 (no gradient reaches the input)' if total == 0 else f'{total:.3g}'}"
            + (f"; exactly 0 at layers {zero_layers}" if zero_layers else ""))


PILED_AT_CLIP = 0.3               # clipping moved at least 30 % of the weights onto +-c during training


def _at_clip_change(summaries: list[dict]) -> str:
    """Mean +- std over seeds of the fraction at +-c, at the start -> after training."""
    return (f"{_mean_std([s['initial']['at_clip'] for s in summaries], 100, 1)} % -> "
            f"{_mean_std([s['at_clip'] for s in summaries], 100, 1)} %")


def claims(results: dict, gan_results: list[dict]) -> list[dict]:
    """One row per claim of Figure 1 (and the toy GANs), with the measured figure over every seed and whether it
    held: a gradient claim in every seed, the weight and value-surface claims on the mean over seeds."""
    per_seed = results["seeds"]
    seeds = len(per_seed)
    rows = []

    def claim(text, measured, held):
        rows.append({"claim": text, "measured": measured, "reproduced": "yes" if held else "NO"})

    def trends(name):
        """(the trend of each seed, the trend of the mean log-norms, the layers exactly 0 in any seed)"""
        norms = [run["layer_output_gradient_norms"][name] for run in per_seed]
        zero = sorted(set().union(*(run["zero_gradient_layers"][name] for run in per_seed)))
        each = [gradient_trend(n, run["zero_gradient_layers"][name]) for n, run in zip(norms, per_seed)]
        return each, gradient_trend(list(np.mean(norms, axis=0)), zero), zero

    for name, direction in (("clip c=0.1", "explode"), ("clip c=0.01", "vanish"), ("clip c=0.001", "vanish")):
        each, mean, zero = trends(name)
        held = [(t["output_to_input_factor"] > EXPLODE_VANISH_FACTOR and t["per_layer_factor"] > 1)
                if direction == "explode" else
                (t["output_to_input_factor"] < 1 / EXPLODE_VANISH_FACTOR and t["per_layer_factor"] < 1) for t in each]
        claim(f"{name}: gradients {direction} from the output layer toward the input (layer outputs)",
              f"in {sum(held)}/{seeds} seeds; mean over seeds: " + _trend_text(mean, zero), all(held))
    each, mean, zero = trends("gradient penalty")
    ratios = [t["max_min_ratio"] for t in each]
    claim("GP: gradient norms stay flat across layers (layer outputs)",
          f"max/min over layers {min(ratios):.3g}-{max(ratios):.3g} over {seeds} seeds; mean over seeds: "
          + _trend_text(mean, zero), max(ratios) < FLAT_MAX_MIN_RATIO and not zero)
    inside, paper, penalised = ([run["weights"][name] for run in per_seed]
                                for name in (INSIDE_INIT, "clip c=0.01", "gradient penalty"))
    piled = np.mean([s["at_clip"] - s["initial"]["at_clip"] for s in inside])
    claim(f"clip c=0.01 piles the {WEIGHTS_DATASET} critic's weights at +-c (started inside +-c/2); GP spreads them",
          f"weights within 1 % of +-0.01, at the start -> after training (mean +- std, {seeds} seeds): "
          f"{_at_clip_change(inside)} (clip, started inside +-c/2); {_at_clip_change(paper)} (clip, tflib init: "
          f"clamping alone puts them there); {_at_clip_change(penalised)} (GP)",
          piled > PILED_AT_CLIP and np.mean([s["at_clip"] for s in penalised]) < 0.05)
    for dataset in FIGURE1_DATASETS:
        clip, gp = ([run["surfaces"][f"{dataset}/{method}"]["follows_data"] for run in per_seed]
                    for method in FIGURE1_METHODS)
        pairs = per_seed[0]["surfaces"][f"{dataset}/wgan-gp"]["pairs"]
        claim(f"{dataset}: the GP critic follows the data, the clipped critic misses it",
              f"P(D(data point) > D(same point rotated off the data, same radius)) over about {pairs:,} pairs, "
              f"mean +- std over {seeds} seeds: clip {_mean_std(clip)}, GP {_mean_std(gp)}",
              np.mean(gp) >= FOLLOWS_DATA_MIN and np.mean(gp) - np.mean(clip) >= FOLLOWS_DATA_MARGIN)
    for dataset in (name for name in FIGURE1_DATASETS if "modes" in DATASETS[name].metrics):
        by_method = {}
        for result in gan_results:
            if result["dataset"] == dataset and result.get("status") == "completed":
                by_method.setdefault(result["method"], []).append(result["metrics"])
        if {"wgan-gp", "wgan-clip"} <= set(by_method):
            modes = {m: np.mean([r["modes"] for r in by_method[m]]) for m in by_method}
            quality = {m: 100 * np.mean([r["high_quality"] for r in by_method[m]]) for m in by_method}
            total = by_method["wgan-gp"][0]["total_modes"]
            claim(f"{dataset} GAN: WGAN-GP covers at least as many modes, with more high-quality samples, than clipping",
                  f"modes {modes['wgan-gp']:.1f}/{total} vs {modes['wgan-clip']:.1f}/{total}; high-quality "
                  f"{quality['wgan-gp']:.1f} % vs {quality['wgan-clip']:.1f} % "
                  f"({len(by_method['wgan-gp'])} vs {len(by_method['wgan-clip'])} seeds)",
                  modes["wgan-gp"] >= modes["wgan-clip"] and quality["wgan-gp"] > quality["wgan-clip"])
    return rows
