"""Gulrajani et al. 2017, Figure 1, on CPU: critics trained against a fixed "generator" (real data + N(0, 1)).

(a) value surfaces of 3-layer toy critics under weight clipping and gradient penalty on 8gaussians,
    25gaussians and swissroll (clipping row above GP row, 128x128 grid over [-3, 3]^2);
(b) left: log10 of the critic loss's gradient norm w.r.t. each layer's weights of a 12-layer ReLU critic on
    swissroll, clipping c in {0.1, 0.01, 0.001} vs GP, averaged over the last training steps;
(b) right: the weights of that critic after training, clipping c = 0.01 vs GP.
Optimizers, lambda and the clip value come from the method presets (toy / deep-mlp arch).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gpbench.config import FIGURE1_DEFAULTS, model_options, preset  # noqa: E402
from gpbench.data import TOY_DATASETS, toy  # noqa: E402
from gpbench.errors import ConfigError  # noqa: E402
from gpbench.losses import WeightClipping, discriminator_loss  # noqa: E402
from gpbench.models import build  # noqa: E402
from gpbench.optim import build_optimizer  # noqa: E402
from gpbench.penalties import build_penalty  # noqa: E402
from gpbench.report.tables import Block, to_markdown  # noqa: E402
from gpbench.rundir import write_text_atomic  # noqa: E402

GRID_POINTS, GRID_RANGE = 128, 3.0
CLIP_VALUES = (0.1, 0.01, 0.001)
AT_CLIP_TOLERANCE = 0.01            # "within 1 % of +-c"
NORM_FLOOR = 1e-45                  # float32's smallest subnormal: a gradient norm of exactly 0 counts as this


def settings_from(user: dict | None) -> dict:
    user = dict(user or {})
    unknown = sorted(set(user) - set(FIGURE1_DEFAULTS))
    if unknown:
        raise ConfigError(f"figure1.{unknown[0]}: unknown key; allowed: {', '.join(FIGURE1_DEFAULTS)}")
    settings = {**FIGURE1_DEFAULTS, **user}
    for key, value in settings.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "seed" else 1):
            raise ConfigError(f"figure1.{key}: expected a whole number >= {0 if key == 'seed' else 1}, got {value!r}")
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


def train_fixed_generator_critic(dataset: str, method: str, steps: int, width: int, batch_size: int, seed: int,
                                 arch: str = "toy", clip: float | None = None, record_last: int = 0,
                                 progress: bool = False):
    """Train a critic on real vs real + N(0, 1). Returns the critic and, if ``record_last`` > 0, the per-layer
    gradient norms of the WGAN critic loss (penalty excluded) over the last ``record_last`` steps."""
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    critic, optimizer, penalty, clipping = _critic_setup(arch, method, width, clip)
    stream = toy.stream(dataset, batch_size, seed)
    layers = [m for m in critic.modules() if isinstance(m, torch.nn.Linear)]
    recorded = []
    for step in tqdm(range(steps), desc=f"{dataset} {method}" + (f" c={clip}" if clip else ""), disable=not progress,
                     leave=False):
        real = torch.from_numpy(stream.next())
        fake = real + torch.from_numpy(rng.randn(*real.shape).astype(np.float32))
        if clipping:
            clipping.before_step(critic)
        loss = discriminator_loss("wgan", critic(real), critic(fake))
        total = loss + penalty(critic, real, fake, step=step) if penalty.on_critic_loss else loss
        optimizer.zero_grad(set_to_none=True)
        if step >= steps - record_last:
            gradients = torch.autograd.grad(loss, [layer.weight for layer in layers], retain_graph=True)
            recorded.append([g.norm().item() for g in gradients])
        total.backward()
        optimizer.step()
        if clipping:
            clipping.after_step(critic)
    return critic, np.array(recorded)


def value_surface(critic: torch.nn.Module) -> np.ndarray:
    axis = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_POINTS, dtype=np.float32)
    points = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    with torch.no_grad():
        return critic(torch.from_numpy(points)).numpy().reshape(GRID_POINTS, GRID_POINTS)


def critic_auc(critic: torch.nn.Module, dataset: str, seed: int, count: int = 2000) -> float:
    """P(D(x) > D(x + N(0, 1))): how well the critic tells data from the fixed generator's samples."""
    rng = np.random.RandomState(seed + 7)
    real = toy.sample(dataset, count, seed + 7)
    fake = real + rng.randn(*real.shape).astype(np.float32)
    with torch.no_grad():
        real_scores, fake_scores = critic(torch.from_numpy(real)).numpy(), critic(torch.from_numpy(fake)).numpy()
    ranks = np.argsort(np.argsort(np.concatenate([real_scores, fake_scores])))
    return float((ranks[:count].sum() - count * (count - 1) / 2) / (count * count))


def run_experiments(settings: dict, out_dir: Path, plots_dir: Path, progress: bool = True) -> dict:
    """All three experiments; writes figure1.json into ``out_dir`` and the figure1_*.png plots."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    seed, batch = settings["seed"], settings["batch_size"]
    results: dict = {"settings": settings, "surfaces": {}, "layer_gradient_norms": {}, "weights": {}}

    figure, axes = plt.subplots(2, 3, figsize=(12, 8), dpi=90)
    axis = np.linspace(-GRID_RANGE, GRID_RANGE, GRID_POINTS)
    for column, dataset in enumerate(TOY_DATASETS):
        data = toy.sample(dataset, 1000, seed)
        for row, method in enumerate(("wgan-clip", "wgan-gp")):
            critic, _ = train_fixed_generator_critic(dataset, method, settings["critic_steps"], settings["width"],
                                                     batch, seed, progress=progress)
            surface = value_surface(critic)
            auc = critic_auc(critic, dataset, seed)
            results["surfaces"][f"{dataset}/{method}"] = {"auc": auc}
            panel = axes[row, column]
            panel.contourf(axis, axis, surface, levels=20, cmap="viridis")
            panel.scatter(data[:, 0], data[:, 1], s=2, c="white", alpha=0.6)
            panel.set_title(f"{dataset}, {'weight clipping' if method == 'wgan-clip' else 'gradient penalty'}"
                            f"\nP(D(real) > D(fake)) = {auc:.3f}", fontsize=9)
            panel.set_xticks([])
            panel.set_yticks([])
    figure.suptitle("Value surfaces of critics trained against real + N(0,1) (cf. Gulrajani et al. Fig. 1a)")
    figure.tight_layout()
    figure.savefig(plots_dir / "figure1_value_surfaces.png")
    plt.close(figure)

    deep_settings = [("wgan-clip", c) for c in CLIP_VALUES] + [("wgan-gp", None)]
    weight_samples = {}
    for method, clip in deep_settings:
        name = f"clip c={clip:g}" if clip else "gradient penalty"
        critic, norms = train_fixed_generator_critic("swissroll", method, settings["deep_steps"],
                                                     settings["deep_width"], batch, seed, arch="deep-mlp", clip=clip,
                                                     record_last=settings["average_last"], progress=progress)
        results["layer_gradient_norms"][name] = [float(v) for v in np.log10(np.maximum(norms, NORM_FLOOR)).mean(axis=0)]
        results.setdefault("zero_gradient_layers", {})[name] = [int(i) + 1 for i in np.flatnonzero((norms == 0).all(axis=0))]
        weights = torch.cat([m.weight.detach().flatten() for m in critic.modules()
                             if isinstance(m, torch.nn.Linear)]).numpy()
        if clip in (0.01, None):
            weight_samples[name] = weights
        reference_c = clip if clip else 0.01
        results["weights"][name] = {
            "at_clip": float((np.abs(np.abs(weights) - reference_c) <= AT_CLIP_TOLERANCE * reference_c).mean()),
            "reference_c": reference_c, "std": float(weights.std()), "max_abs": float(np.abs(weights).max())}

    figure, panel = plt.subplots(figsize=(6, 4), dpi=100)
    for name, values in results["layer_gradient_norms"].items():
        panel.plot(np.arange(1, len(values) + 1), values, marker="o", label=name)
    panel.set_xlabel("critic layer (1 = input, 13 = output)")
    panel.set_ylabel("log10 gradient norm of the critic loss")
    panel.set_title("Deep (12-layer) critic on swissroll (cf. Fig. 1b left)", fontsize=10)
    panel.grid(alpha=0.3)
    panel.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(plots_dir / "figure1_gradient_norms.png")
    plt.close(figure)

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    for panel, (name, values) in zip(axes, weight_samples.items()):
        panel.hist(values, bins=100, color="tab:blue")
        panel.set_title(f"{name}: weights after training", fontsize=10)
        panel.set_xlabel("weight value")
    figure.suptitle("Critic weights, weight clipping vs gradient penalty (cf. Fig. 1b right)", fontsize=10)
    figure.tight_layout()
    figure.savefig(plots_dir / "figure1_weights.png")
    plt.close(figure)

    write_text_atomic(out_dir / "figure1.json", json.dumps(results, indent=1))
    return results


# --- the claims table ------------------------------------------------------------------------------------

def _ratio(log_norms: list[float], numerator: int, denominator: int) -> float:
    return float(10 ** (log_norms[numerator] - log_norms[denominator]))


def claims(results: dict, gan_results: list[dict]) -> list[dict]:
    """One row per claim of Figure 1 (and the toy GANs), with the measured figure and whether it held."""
    norms = results["layer_gradient_norms"]
    rows = []

    def claim(text, measured, held):
        rows.append({"claim": text, "measured": measured, "reproduced": "yes" if held else "NO"})

    # layer 0 is the input layer, -1 the output layer; backprop runs from the output to the input
    vanishing = _ratio(norms["clip c=0.001"], -1, 0)
    zero_layers = results.get("zero_gradient_layers", {}).get("clip c=0.001", [])
    claim("clip c=0.001: gradients vanish towards the input layers",
          f"gradient norm shrinks from last to first layer by a factor of {vanishing:.3g}"
          + (f" (exactly 0 at layers {zero_layers})" if zero_layers else ""), vanishing > 10)
    exploding = _ratio(norms["clip c=0.1"], 0, -1)
    claim("clip c=0.1: gradients explode towards the input layers",
          f"gradient norm grows from last to first layer by a factor of {exploding:.3g}", exploding > 10)
    middle = _ratio(norms["clip c=0.01"], -1, 0)
    claim("clip c=0.01: gradients change exponentially across layers",
          f"last/first layer gradient-norm ratio {middle:.3g}", middle > 10 or middle < 0.1)
    gp = norms["gradient penalty"]
    flatness = float(10 ** (max(gp) - min(gp)))
    claim("GP: gradient norms stay flat across layers", f"max/min layer gradient-norm ratio {flatness:.3g}",
          flatness < 10)
    clipped, penalised = results["weights"]["clip c=0.01"], results["weights"]["gradient penalty"]
    claim("clip c=0.01 piles the weights at +-c; GP spreads them",
          f"weights within 1 % of +-0.01: {100 * clipped['at_clip']:.1f} % (clip) vs "
          f"{100 * penalised['at_clip']:.2f} % (GP)", clipped["at_clip"] > 0.3 and penalised["at_clip"] < 0.05)
    for dataset in TOY_DATASETS:
        clip_auc = results["surfaces"][f"{dataset}/wgan-clip"]["auc"]
        gp_auc = results["surfaces"][f"{dataset}/wgan-gp"]["auc"]
        claim(f"{dataset}: the GP critic follows the data better than the clipped critic",
              f"P(D(real) > D(real + N(0,1))): clip {clip_auc:.3f}, GP {gp_auc:.3f}", gp_auc > clip_auc)
    for dataset in ("8gaussians", "25gaussians"):
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


def write_claims_table(results_file: str | Path, eval_files: list[str], out_stem: str | Path, caption: str) -> Path:
    results = json.loads(Path(results_file).read_text())
    gan_results = [json.loads(Path(path).read_text()) for path in eval_files]
    rows = claims(results, gan_results)
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    settings = ", ".join(f"{k}={v}" for k, v in results["settings"].items())
    columns = ["claim", "measured", "reproduced"]
    block = Block("Claims", columns, [[row[column] for column in columns] for row in rows])
    out_stem.with_suffix(".md").write_text(to_markdown(
        [block], "Gulrajani et al. 2017, Figure 1: claims and what this replication measured",
        f"{caption} Settings: {settings}. Plots: figure1_value_surfaces.png, figure1_gradient_norms.png, "
        "figure1_weights.png."))
    with open(out_stem.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return out_stem.with_suffix(".md")
