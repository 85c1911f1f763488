"""``gpbench diagnose``: "why is my WGAN-GP loss increasing?" answered from a run directory's own files.

Each check reads what the run logged (config.yaml, status.json, metrics.jsonl with the dev critic cost,
eval.jsonl, the final checkpoint) and returns a verdict (ok / warn / fail), the evidence in numbers and one line
of advice. Nothing is trained. The thresholds below are named with where each comes from; docs/diagnose.md
explains every check. Checks run in order, and a finding that an earlier warning explains (a Wasserstein
estimate that rises because the penalty lost its grip) is attributed to that warning instead of raised twice.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from gpbench.paper import preset
from gpbench.training.config import model_options
from gpbench.data import get_dataset
from gpbench.errors import RunDirError
from gpbench.metrics import LOWER_IS_BETTER
from gpbench.metrics.collapse import COLLAPSED_SPREAD
from gpbench.models import build
from gpbench.models.signal import at_clip_fraction, output_to_input_factor, weight_layers
from gpbench.analysis.overfitting import GAP_END_POINTS, dev_curves, dev_gap, gap_grew
from gpbench.analysis.runresult import RunResult
from gpbench.training.rundir import METRICS, RunDir

VERDICTS = ("skip", "ok", "warn", "fail")     # "skip": too little logged to judge, said as such
FLAGGED = ("warn", "fail")

# --- thresholds ----------------------------------------------------------------------------------------------
# Windows: "the last part of training" is the last quarter of the logged iterations; a trend needs 8 points.
LAST_PART = 0.25
MIN_POINTS = 8
# A trend is real when the fitted slope is 3 standard errors from 0 (convention).
TREND_T = 3.0
# Divergence: a quantity "was rising" before a non-finite value when its last finite logged value is 10x its
# first (one order of magnitude; convention).
RISE_FACTOR = 10.0
# Penalty strength (too weak / dominates), for penalties with a target norm (Penalty.target_norm: 1 for wgan-gp/wgan-lp/dragan, the margin for
# flex; a one-sided penalty is never "dominating" for norms below it): the mean
# gradient norm at the penalty points over the last part of training. Measured here on 8gaussians (DIM 32,
# batch 64, 600 iterations): the toy preset (lambda 0.1) ends at 1.44 with the penalty 18 % of the critic loss;
# lambda 1e-6 at 22.5 (the critic escapes the constraint); lambda 1e4 pins it at 1.00 with the penalty 70 % of
# the critic loss and a negative Wasserstein estimate. Above 2x the target the penalty is too weak; below 0.5x,
# or above half of the critic loss, it dominates.
GRIP_HIGH, GRIP_LOW, PENALTY_SHARE_HIGH = 2.0, 0.5, 0.5
# Configuration against the method's preset: a critic/generator learning-rate ratio an order of magnitude
# away from the preset's (two-time-scale setups commonly use 3-5x), n_critic 4x away, or a batch 4x smaller
# than the preset's when the Wasserstein estimate it gives is lost in its noise (its standard deviation over
# the last part of training above its mean magnitude: signal-to-noise below 1; convention).
LR_RATIO_LIMIT, N_CRITIC_FACTOR, BATCH_FACTOR, SIGNAL_TO_NOISE_MIN = 10.0, 4.0, 4.0, 1.0
# Weight clipping: a weight counts as "at +-c" within 1 % of c (models.signal, as Figure 1). What clipping breaks is
# the back-propagated signal (Fig. 1b): the share of the gradient at the critic's last layer that reaches its
# first. Measured here on the final critics of 8gaussians runs (DIM 32, 300 iterations): c = 0.1: 0.4;
# 0.01 (the preset): 2e-3; 0.003: 3.5e-6; 0.001: 7e-8; gradient penalty: 1.8. Just after clipping binds, the
# weights still have random signs and the signal decays like (c sqrt(width / 2))^depth: 6e-5 for the preset
# c = 0.01 at DIM 32 after 4 iterations. Below 1e-5 (five decades lost) the generator learns from a vanished
# signal; above 1e5 it explodes.
SIGNAL_VANISHED, SIGNAL_EXPLODED = 1e-5, 1e5
# Collapse: toy runs losing a quarter of their captured modes along the eval curve, or an image metric 20 %
# worse than its best, while the Wasserstein estimate keeps falling.
MODES_LOST_FRACTION, METRIC_WORSE_FRACTION = 0.25, 0.2
# A saturated non-saturating/minimax critic: its (halved) BCE loss below 0.05 over the last part, i.e. it
# tells real from fake with about 95 % confidence and the generator's gradient signal fades (Goodfellow 2014).
SATURATED_D_LOSS = 0.05


@dataclass
class Check:
    name: str
    verdict: str
    evidence: str
    advice: str = ""
    numbers: dict = field(default_factory=dict)


@dataclass
class RunLogs(RunResult):
    """What a diagnosis reads of a run directory: a RunResult and the final checkpoint."""

    checkpoint: dict | None = None

    @classmethod
    def read(cls, path: str | Path) -> "RunLogs":
        run = RunDir(path)
        run.require_config()
        metrics = run.file(METRICS)
        if metrics.is_file() and metrics.stat().st_size and not metrics.read_bytes().endswith(b"\n"):
            raise RunDirError(f"{metrics} is truncated (its last line is cut off, as a full disk or a kill leaves "
                              f"it); resume the run with `gpbench train` first, which repairs it")
        result = RunResult.read(path)
        checkpoint = run.load_checkpoint(map_location="cpu") if run.has_checkpoint() else None
        return cls(**{f.name: getattr(result, f.name) for f in fields(RunResult)}, checkpoint=checkpoint)


def _last_part(x: np.ndarray, y: np.ndarray, fraction: float = LAST_PART) -> tuple[np.ndarray, np.ndarray]:
    start = int(len(x) * (1 - fraction))
    start = min(start, max(len(x) - MIN_POINTS, 0))
    return x[start:], y[start:]


def trend(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope per 1,000 iterations and its standard error."""
    x = x / 1000.0
    if len(x) < 3 or np.ptp(x) == 0:
        return 0.0, math.inf
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    error = math.sqrt((residual ** 2).sum() / (len(x) - 2) / ((x - x.mean()) ** 2).sum())
    return float(slope), float(error)


def _window_text(x: np.ndarray) -> str:
    return f"iterations {int(x[0]):,}-{int(x[-1]):,}, {len(x)} points"


def _too_short(name: str, points: int, needed: int = MIN_POINTS) -> Check:
    return Check(name, "skip", f"too few logged iterations to judge ({points}; {needed} needed)")


# --- the checks ----------------------------------------------------------------------------------------------

def check_divergence(run: RunLogs) -> Check:
    status = run.status.get("status")
    if status == "failed":
        return Check("divergence", "fail", f"the run failed: {run.status.get('message', 'no reason recorded')}",
                     "fix what the message says, then run the same `gpbench train` command to resume")
    if run.unfinished:                   # interrupted, running, or a missing or damaged status.json
        at, total = run.status.get("iteration"), run.config["iterations"]
        finished = f"at iteration {at} of {total}" if at is not None else f"how far of {total} iterations unknown"
        reason = run.status.get("message") or {
            "running": "status running: still training, or killed without a word",
            "unknown": "status.json is damaged"}.get(status, f"status {status or 'missing'}")
        return Check("divergence", "fail" if status == "interrupted" else "warn",
                     f"the run did not finish ({finished}): {reason}",
                     "run the same `gpbench train` command to resume (it rewrites status.json); until then its "
                     "numbers are not the run's result", {"iteration": run.status.get("iteration")})
    if status != "diverged":
        return Check("divergence", "ok", "no non-finite loss (status completed)")
    at = run.status.get("iteration", 0)
    rising = []
    for key in ("d_loss", "g_loss", "penalty", "gradient_norm", "wasserstein_estimate"):
        x, y = run.series(key)
        before = np.abs(y[x <= at])
        if len(before) >= 2 and before[0] > 0 and before[-1] > RISE_FACTOR * before[0]:
            rising.append(f"|{key}| {before[0]:.3g} at the start -> {before[-1]:.3g}")
    cause = "; rising before it: " + ", ".join(rising) if rising else "; nothing logged rose 10x before it"
    return Check("divergence", "fail", f"{run.status.get('message', f'non-finite at iteration {at}')}{cause}",
                 "lower the learning rate (or raise lambda if the gradient norm rose); a diverged run cannot resume "
                 "past the divergence: train it again with the fix", {"iteration": at, "rising": rising})


def check_configuration(run: RunLogs) -> Check:
    config = run.config
    base = preset(config["arch"], config["method"])
    problems, numbers = [], {}
    ratio = config["critic_lr"] / config["generator_lr"]
    numbers["lr_ratio"] = ratio
    if not 1 / LR_RATIO_LIMIT < ratio < LR_RATIO_LIMIT:
        problems.append(f"critic lr {config['critic_lr']:g} vs generator lr {config['generator_lr']:g} "
                        f"(ratio {ratio:.3g}; the preset's is 1)")
    if not base["n_critic"] / N_CRITIC_FACTOR <= config["n_critic"] <= base["n_critic"] * N_CRITIC_FACTOR:
        problems.append(f"n_critic {config['n_critic']} (preset {base['n_critic']})")
    x, w = _last_part(*run.series("wasserstein_estimate"))
    noise = ""
    if len(w) >= MIN_POINTS:
        snr = abs(w.mean()) / (w.std() + 1e-12)
        numbers["signal_to_noise"] = snr
        noise = f"; Wasserstein estimate {w.mean():.3g} ± {w.std():.2g} (sd) over {_window_text(x)}"
        if config["batch_size"] < base["batch_size"] / BATCH_FACTOR and snr < SIGNAL_TO_NOISE_MIN:
            problems.append(f"batch size {config['batch_size']} (preset {base['batch_size']}) leaves the estimate "
                            f"lost in its noise (signal-to-noise {snr:.2g})")
    if problems:
        return Check("configuration", "warn", "; ".join(problems) + noise,
                     "move the ratio back toward the preset: an overpowered critic or generator stalls the game "
                     "(two-time-scale setups rarely go beyond 5x)", numbers)
    return Check("configuration", "ok", f"learning rates, n_critic and batch size within reach of the "
                                        f"{config['method']} preset" + noise, numbers=numbers)


def check_penalty_strength(run: RunLogs, earlier: list[Check]) -> list[Check]:
    """Two checks from one measurement of the gradient norm at the penalty points and the penalty's share of the
    critic loss over the last part of training: "penalty too weak" (the norm far above the penalty's target: the
    critic escapes the Lipschitz constraint) and "penalty dominates" (the penalty most of the loss, or, for a
    two-sided penalty, the norm pinned far below its target)."""
    names = ("penalty too weak", "penalty dominates")
    if run.penalty.kind == "none":
        return [Check(name, "ok", "no gradient penalty (the critic is constrained by "
                                  + ("weight clipping)" if run.config["clip"] else "nothing)")) for name in names]
    x, norm = _last_part(*run.series("gradient_norm"))
    if len(norm) < MIN_POINTS:
        return [_too_short(name, len(norm)) for name in names]
    _, penalty = _last_part(*run.series("penalty"))
    _, d_loss = _last_part(*run.series("d_loss"))
    share = float(np.mean(penalty) / (np.mean(np.abs(d_loss)) + np.mean(penalty) + 1e-12)) if len(penalty) else 0.0
    target = run.penalty.target_norm
    numbers = {"gradient_norm": float(norm.mean()), "target": target, "penalty_share": share}
    evidence = (f"mean gradient norm at the penalty points {norm.mean():.3g} ± {norm.std():.2g}"
                + (f" vs target {target:g}" if target else "") + f"; penalty {100 * share:.0f} % of the critic loss; "
                + _window_text(x))
    weak = Check(names[0], "ok", evidence, numbers=numbers)
    if target and norm.mean() > GRIP_HIGH * target:
        weak = (Check(names[0], "ok", evidence + f" - above target, explained by: {_explained(earlier)}", numbers=numbers)
                if _explained(earlier) else
                Check(names[0], "warn", evidence + " - the critic escapes the Lipschitz constraint",
                      "raise lambda or lower the critic's learning rate", numbers))
    dominates = Check(names[1], "ok", evidence, numbers=numbers)
    if share > PENALTY_SHARE_HIGH or (target and not run.penalty.one_sided and norm.mean() < GRIP_LOW * target):
        dominates = Check(names[1], "warn", evidence + " - the penalty dominates the critic's loss",
                          "lower lambda: the critic spends its capacity on the penalty, its estimate of the distance "
                          "shrinks and its gradients to the generator fade", numbers)
    return [weak, dominates]


def _explained(earlier: list[Check]) -> str:
    return ", ".join(check.name for check in earlier if check.verdict in FLAGGED)


def _final_nets(run: RunLogs):
    generator, critic = build(run.config["arch"], **model_options(run.config))
    generator.load_state_dict(run.checkpoint["generator"])
    critic.load_state_dict(run.checkpoint["critic"])
    return generator, critic


def check_weight_clipping(run: RunLogs) -> Check:
    clip = run.config["clip"]
    if not clip:
        return Check("weight clipping", "ok", "no weight clipping")
    if run.checkpoint is None:
        return Check("weight clipping", "ok", "no checkpoint to read the critic's weights from")
    generator, critic = _final_nets(run)
    weights = torch.cat([layer.weight.detach().flatten() for layer in weight_layers(critic)]).numpy()
    at_clip = at_clip_fraction(weights, clip)
    torch.manual_seed(run.config["seed"])
    with torch.no_grad():
        samples = generator(torch.randn(run.config["batch_size"], generator.noise_dim))
    factor = output_to_input_factor(critic, samples)
    numbers = {"at_clip": at_clip, "output_to_input_factor": factor}
    evidence = (f"{100 * at_clip:.0f} % of the critic's weights at +-{clip:g} (Gulrajani Fig. 1b right); "
                f"{factor:.3g} of the gradient at its last layer's output reaches its first (Fig. 1b left)")
    if factor < SIGNAL_VANISHED or factor > SIGNAL_EXPLODED:
        direction = "vanishes" if factor < SIGNAL_VANISHED else "explodes"
        return Check("weight clipping", "warn", evidence + f" - the back-propagated signal {direction}",
                     ("raise c" if factor < SIGNAL_VANISHED else "lower c") + ", or use a gradient penalty, whose "
                     "signal stays level across layers", numbers)
    return Check("weight clipping", "ok", evidence, numbers=numbers)


def check_rising_estimate(run: RunLogs, earlier: list[Check]) -> Check:
    """A rising Wasserstein estimate, told apart by cause (docs/diagnose.md)."""
    curves = None if get_dataset(run.config["dataset"]).drawn_fresh else dev_curves(run)  # nothing fixed to overfit
    gap = curves and dev_gap(curves)
    if gap and gap_grew(gap):
        held_slope, held_error = trend(*_last_part(curves["iteration"], curves["held_out"], 0.5))
        return Check("rising estimate", "warn",
                     f"over the last {GAP_END_POINTS} dev evaluations (iterations {gap['first_end_iteration']:,}-"
                     f"{gap['iterations']:,}) training data {gap['training_end']:.3g} vs held-out "
                     f"{gap['held_out_end']:.3g}: the gap grew from {gap['start']:.3g} to {gap['end']:.3g} ± "
                     f"{gap['standard_error']:.2g}; held-out trend "
                     f"{held_slope:+.3g} ± {held_error:.2g} per 1k iterations - the critic overfits the training set "
                     "(Gulrajani Fig. 4b)", "more training data, a smaller critic, or fewer critic steps; judge the "
                     "run by the held-out estimate", {"gap_end": gap["end"], "gap_standard_error": gap["standard_error"]})
    x, w = run.series("wasserstein_estimate")
    if len(w) < 2 * MIN_POINTS:
        return _too_short("rising estimate", len(w), 2 * MIN_POINTS)
    half = len(x) // 2
    early_slope, early_error = trend(x[:half], w[:half])
    late_slope, late_error = trend(x[half:], w[half:])
    numbers = {"late_slope": late_slope, "late_error": late_error}
    late = f"{late_slope:+.3g} ± {late_error:.2g} per 1k iterations over {_window_text(x[half:])}"
    if late_slope <= TREND_T * late_error:
        if early_slope > TREND_T * early_error:
            return Check("rising estimate", "ok", f"rose early ({early_slope:+.3g} ± {early_error:.2g} per 1k), then "
                                                  f"{late}: the usual warm-up", numbers=numbers)
        return Check("rising estimate", "ok", f"not rising: {late}", numbers=numbers)
    if _explained(earlier):
        return Check("rising estimate", "ok", f"rising ({late}), explained by: {_explained(earlier)}",
                     numbers=numbers)
    metric_trend = _metric_stalls(run, x[half])
    if metric_trend is None:
        return Check("rising estimate", "warn", f"rising: {late}; no evaluation curve to tell the cause",
                     "run `gpbench eval` on the run (and keep dev_every on) to tell overfitting from an "
                     "overpowering critic", numbers)
    stalled, description = metric_trend
    if stalled:
        return Check("rising estimate", "warn", f"rising on training and held-out data ({late}) while {description} - "
                                                "the critic overpowers the generator",
                     "lower the critic's learning rate or n_critic, or raise the generator's", numbers)
    return Check("rising estimate", "ok", f"rising ({late}) while {description}: the critic keeps up with a "
                                          "generator that improves", numbers=numbers)


def _main_metric(run: RunLogs) -> str | None:
    """The dataset's collapse metric when the evaluation curve has it."""
    metric = get_dataset(run.dataset).collapse_metric
    return metric if run.series(metric, "curve")[0].size else None


def _metric_stalls(run: RunLogs, since: float) -> tuple[bool, str] | None:
    metric = _main_metric(run)
    if metric is None:
        return None
    x, y = run.series(metric, "curve")
    x, y = x[x >= since], y[x >= since]
    if len(x) < 3:
        return None
    slope, error = trend(x, y)
    improving = -slope > TREND_T * error if metric in LOWER_IS_BETTER else slope > TREND_T * error
    return not improving, f"{metric} moved {slope:+.3g} ± {error:.2g} per 1k iterations on the eval curve"


# A curve point scores a few hundred samples (eval curve_samples): one unlucky point is noise, not a collapse, so the
# curve is judged by the mean of CURVE_SMOOTHING neighbouring snapshots.
CURVE_SMOOTHING = 3


def smoothed_curve(values: np.ndarray) -> np.ndarray:
    """The running mean over CURVE_SMOOTHING neighbouring points (the curve itself when it is shorter)."""
    if len(values) < CURVE_SMOOTHING:
        return values
    return np.convolve(values, np.ones(CURVE_SMOOTHING) / CURVE_SMOOTHING, mode="valid")


def check_saturated_discriminator(run: RunLogs) -> Check:
    """A standard-GAN discriminator that wins outright: the generator's gradients fade (whatever its samples are
    like so far; a saturated run can still have drawn good samples before it)."""
    if run.config["game"] not in ("ns", "mm"):
        return Check("saturated discriminator", "ok", f"not a standard-GAN game ({run.config['game']})")
    x, d_loss = _last_part(*run.series("d_loss"))
    if len(d_loss) < MIN_POINTS:
        return _too_short("saturated discriminator", len(d_loss))
    if d_loss.mean() < SATURATED_D_LOSS:
        return Check("saturated discriminator", "warn", f"critic loss {d_loss.mean():.3g} over {_window_text(x)}: "
                                                        "the discriminator is saturated",
                     "the generator's gradients fade: lower the discriminator's learning rate or use the wgan-gp "
                     "method", {"d_loss": float(d_loss.mean())})
    return Check("saturated discriminator", "ok", f"critic loss {d_loss.mean():.3g} over {_window_text(x)}",
                 numbers={"d_loss": float(d_loss.mean())})


def check_collapse(run: RunLogs) -> Check:
    if run.collapsed:
        return Check("collapse", "fail", f"the final samples are all the same: their spread is {run.sample_spread:.1e} "
                                         f"of the real data's (collapsed below {COLLAPSED_SPREAD:g})",
                     "the generator is dead (a saturated output layer, say): look at its samples; the run's metrics "
                     "do not count in the tables", {"sample_spread": float(run.sample_spread)})
    metric = _main_metric(run)
    if metric is None:
        return Check("collapse", "ok", "no evaluation curve (run `gpbench eval`)")
    _, raw = run.series(metric, "curve")
    y = smoothed_curve(raw)
    _, w = run.series("wasserstein_estimate")
    falling = len(w) >= MIN_POINTS and trend(*run.series("wasserstein_estimate"))[0] < 0
    window = f"(evaluation curve, mean of {CURVE_SMOOTHING} neighbouring snapshots)"
    if metric == "modes":
        total = run.curve[-1].get("total_modes", 1)
        lost = y.max() - y[-1]
        if lost >= MODES_LOST_FRACTION * total and falling:
            return Check("collapse", "warn", f"modes captured fell from {y.max():.1f} to {y[-1]:.1f} of {total} "
                                             f"{window} while the Wasserstein estimate kept falling: mode collapse",
                         "raise lambda or n_critic; compare seeds", {"modes_lost": float(lost)})
        return Check("collapse", "ok", f"modes captured {y[-1]:.1f} of {total} at the end (best {y.max():.1f}) {window}")
    best = y.min() if metric in LOWER_IS_BETTER else y.max()
    worse = (y[-1] - best) / abs(best) if metric in LOWER_IS_BETTER else (best - y[-1]) / abs(best)
    if worse > METRIC_WORSE_FRACTION and falling:
        return Check("collapse", "warn", f"{metric} {y[-1]:.4g} at the end, {100 * worse:.0f} % worse than its best "
                                         f"{best:.4g} {window}, while the Wasserstein estimate kept falling",
                     "the samples got worse: look at them; lower the learning rates or raise lambda",
                     {"worse_fraction": float(worse)})
    return Check("collapse", "ok", f"{metric} {y[-1]:.4g} at the end (best {best:.4g}) {window}")


def diagnose(path: str | Path) -> list[Check]:
    """Every check of one run directory, in order."""
    run = RunLogs.read(path)
    checks = [check_divergence(run), check_configuration(run)]
    checks += check_penalty_strength(run, checks)
    checks.append(check_weight_clipping(run))
    checks.append(check_rising_estimate(run, checks))
    checks.append(check_saturated_discriminator(run))
    checks.append(check_collapse(run))
    return checks


def worst(checks: list[Check]) -> Check:
    return max(checks, key=lambda check: VERDICTS.index(check.verdict))


def as_json(path: str | Path, checks: list[Check]) -> dict:
    top = worst(checks)
    return {"run": str(path), "verdict": top.verdict, "worst_check": top.name if top.verdict in FLAGGED else None,
            "checks": [asdict(check) for check in checks]}


def format_report(path: str | Path, checks: list[Check]) -> str:
    lines = [f"{path}: {worst(checks).verdict.upper()}"]
    for check in checks:
        lines.append(f"  [{check.verdict:>4}] {check.name}: {check.evidence}")
        if check.advice:
            lines.append(f"         advice: {check.advice}")
    return "\n".join(lines)
