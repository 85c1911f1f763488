"""The penalty core against closed forms (docs/penalties.md)."""

import math

import pytest
import torch
from torch import nn

from gpbench import ConfigError
from gpbench.penalties import REGISTRY, Anneal, Decay, FlexPenalty, InputGradientPenalty, build_penalty, parse_schedule


@pytest.fixture(autouse=True)
def double_precision():
    """Closed forms are checked to 1e-6 relative: compute in float64, restore the default afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)

SEED_HYPERGAN_EXAMPLE = {
    "class": "function:hypergan.train_hooks.gradient_penalty_train_hook.GradientPenaltyTrainHook",
    "lambda": 1.00, "flex": 1.0, "components": ["discriminator"], "target": "discriminator",
}


def linear_critic(weight, bias=0.3):
    """D(x) = w . x + b on flat inputs: the input gradient is w everywhere."""
    critic = nn.Sequential(nn.Linear(len(weight), 1), nn.Flatten(0))
    with torch.no_grad():
        critic[0].weight.copy_(torch.tensor([weight]))
        critic[0].bias.fill_(bias)
    return critic


def batches(batch=8, features=3, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, features, generator=generator), torch.randn(batch, features, generator=generator) + 2


# Weight norms on both sides of 1, so the one-sided penalty is tested in both regimes.
@pytest.mark.parametrize("weight", [[0.3, -0.4, 0.2], [1.5, -2.0, 0.5]])
@pytest.mark.parametrize("kind, closed_form", [
    ("wgan-gp", lambda lam, n: lam * (n - 1) ** 2),
    ("wgan-lp", lambda lam, n: lam * max(0.0, n - 1) ** 2),
    ("zero-gp", lambda lam, n: lam * n ** 2),
    ("r1", lambda lam, n: lam / 2 * n ** 2),
    ("r2", lambda lam, n: lam / 2 * n ** 2),
    ("dragan", lambda lam, n: lam * (n - 1) ** 2),
])
def test_input_gradient_kinds_match_closed_form_on_linear_critic(kind, closed_form, weight):
    critic = linear_critic(weight)
    real, fake = batches()
    penalty = build_penalty({"kind": kind, "lambda": 7.0})
    term = penalty.evaluate(critic, real, fake)
    value, gradient_norm = term.value, term.gradient_norm
    norm = math.sqrt(sum(w * w for w in weight))
    assert value.item() == pytest.approx(closed_form(7.0, norm), rel=1e-6)
    assert gradient_norm.item() == pytest.approx(norm, rel=1e-6)


@pytest.mark.parametrize("kind, expected_lambda", [
    ("wgan-gp", 10), ("wgan-lp", 10), ("zero-gp", 10), ("r1", 10), ("r2", 10), ("dragan", 10), ("flex", 1)])
def test_default_lambdas_follow_the_spec(kind, expected_lambda):
    assert build_penalty({"kind": kind}).lambda_at(0) == expected_lambda


def test_flex_on_inputs_scalar_and_list_on_linear_critic():
    weight = [0.3, -1.4, 2.2]
    critic = linear_critic(weight)
    real, fake = batches()

    def margin_norm(margin):
        return math.sqrt(sum(max(abs(w) - margin, 0.0) ** 2 for w in weight))

    scalar = build_penalty({"kind": "flex", "lambda": 3.0, "flex": 0.5, "wrt": "inputs"})
    assert scalar(critic, real, fake).item() == pytest.approx(3.0 * margin_norm(0.5), rel=1e-6)
    listed = build_penalty({"kind": "flex", "lambda": 3.0, "flex": [0.0, 1.0], "wrt": "inputs"})
    expected = 3.0 * (margin_norm(0.0) + margin_norm(1.0)) / 2  # mean over the 2B per-sample norms
    assert listed(critic, real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_flex_on_parameters_scalar_and_list_on_linear_critic():
    weight = [0.3, -1.4, 2.2]
    critic = linear_critic(weight)
    real, fake = batches()
    # d mean(w.x + b) / dw = mean x, d/db = 1
    stacked_gradient = torch.cat([torch.cat([real, fake]).mean(0), torch.ones(1)])
    penalty = build_penalty({"kind": "flex", "lambda": 2.0, "flex": 0.25, "components": ["discriminator"]})
    expected = 2.0 * torch.relu(stacked_gradient.abs() - 0.25).norm().item()
    assert penalty(critic, real, fake).item() == pytest.approx(expected, rel=1e-6)

    real_gradient = torch.cat([real.mean(0), torch.ones(1)])
    fake_gradient = torch.cat([fake.mean(0), torch.ones(1)])
    penalty = build_penalty({"kind": "flex", "lambda": 2.0, "flex": [0.0, 1.5], "components": ["discriminator"]})
    expected = 2.0 * (torch.relu(real_gradient.abs()).norm() + torch.relu(fake_gradient.abs() - 1.5).norm()).item()
    assert penalty(critic, real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_flex_on_parameters_hand_computed_two_parameter_critic():
    critic = linear_critic([1.0], bias=0.0)          # D(x) = a x + b, parameters (a, b)
    real = torch.tensor([[1.0], [3.0]])
    fake = torch.tensor([[-2.0], [0.0]])
    # scalar flex: gradient of mean D over [1, 3, -2, 0] = (0.5, 1); relu(|.| - 0.25) = (0.25, 0.75)
    scalar = build_penalty({"kind": "flex", "lambda": 2.0, "flex": 0.25, "components": ["discriminator"]})
    assert scalar(critic, real, fake).item() == pytest.approx(2.0 * math.sqrt(0.25**2 + 0.75**2), rel=1e-9)
    # list flex [0, 0.5]: real gradient (2, 1) -> norm sqrt(5); fake gradient (-1, 1) -> (0.5, 0.5)
    listed = build_penalty({"kind": "flex", "lambda": 2.0, "flex": [0.0, 0.5], "components": ["discriminator"]})
    assert listed(critic, real, fake).item() == pytest.approx(2.0 * (math.sqrt(5) + math.sqrt(0.5)), rel=1e-9)


def test_flex_with_generator_component_differentiates_through_generator_parameters():
    critic = linear_critic([2.0], bias=0.0)           # D(x) = a x + b with a = 2
    generator = nn.Linear(1, 1)                        # G(z) = c z + d
    with torch.no_grad():
        generator.weight.fill_(1.0)
        generator.bias.fill_(0.0)
    z = torch.tensor([[1.0], [4.0]])
    real = torch.tensor([[1.0], [3.0]])
    fake = generator(z)                                # attached: [1, 4]
    # mean over the stacked [x; G(z)]: dD/da = mean(1, 3, 1, 4) = 2.25, dD/db = 1,
    # dD/dc = a * sum(z) / 4 = 2.5, dD/dd = a * 2 / 4 = 1
    penalty = build_penalty({"kind": "flex", "lambda": 1.0, "flex": 1.0,
                             "components": ["discriminator", "generator"]})
    value = penalty(critic, real, fake, generator=generator)
    assert value.item() == pytest.approx(math.sqrt(1.25**2 + 0 + 1.5**2 + 0), rel=1e-9)
    value.backward()
    assert generator.weight.grad is not None and torch.isfinite(generator.weight.grad).all()
    with pytest.raises(ConfigError, match="generator"):
        penalty(critic, real, fake.detach(), generator=generator)


def test_per_sample_norm_spans_all_non_batch_dims_of_images():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 1), nn.Flatten(0))
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    weight = critic[1].weight.detach().reshape(3, 4, 4)
    per_sample = weight.norm().item()
    per_pixel = weight.norm(dim=0)                     # the bug: norm over channels only
    value = build_penalty({"kind": "wgan-gp", "lambda": 10})(critic, real, fake).item()
    assert value == pytest.approx(10 * (per_sample - 1) ** 2, rel=1e-6)
    assert value != pytest.approx(10 * ((per_pixel - 1) ** 2).mean().item(), rel=1e-3)


def test_penalty_gradient_reaches_critic_parameters_in_closed_form():
    weight = torch.tensor([0.6, -0.8, 1.2])
    critic = linear_critic(weight.tolist())
    real, fake = batches()
    build_penalty({"kind": "wgan-gp", "lambda": 10})(critic, real, fake).backward()
    norm = weight.norm()
    expected = 2 * 10 * (norm - 1) * weight / norm    # d/dw of lambda (|w| - 1)^2
    torch.testing.assert_close(critic[0].weight.grad[0], expected, rtol=1e-6, atol=1e-9)
    assert critic[0].bias.grad is None                  # the penalty does not depend on b


@pytest.mark.parametrize("config", [
    {"kind": "wgan-gp"}, {"kind": "wgan-lp"}, {"kind": "zero-gp"}, {"kind": "r1"}, {"kind": "r2"},
    {"kind": "dragan"}, {"kind": "flex", "flex": 0.0, "components": ["discriminator"]}, {"kind": "flex", "flex": [0.0, 0.0], "wrt": "inputs"}])
def test_zero_input_gradient_gives_finite_value_and_parameter_gradients(config):
    critic = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.Flatten(0))
    with torch.no_grad():
        critic[2].weight.zero_()                     # D is constant in x: the input gradient is exactly 0
    real, fake = batches()
    value = build_penalty(config)(critic, real, fake)
    value.backward()
    assert torch.isfinite(value)
    for parameter in critic.parameters():
        assert parameter.grad is None or torch.isfinite(parameter.grad).all()


def test_none_penalty_is_zero():
    penalty = build_penalty({"kind": "none"})
    assert penalty(linear_critic([1.0, 2.0, 3.0]), *batches()).item() == 0.0
    assert build_penalty(None).kind == "none"


def test_interpolates_use_detached_inputs_and_one_alpha_per_sample():
    # A critic that records its input: every interpolate lies on the segment from its real to its fake sample.
    seen = []

    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(3, 1)

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.linear(x).flatten()

    real, fake = batches()
    fake = fake.requires_grad_(True)
    build_penalty({"kind": "wgan-gp"})(Recorder(), real, fake * 1.0)
    points = seen[0]
    alpha = ((points - real) / (fake.detach() - real))
    torch.testing.assert_close(alpha, alpha[:, :1].expand_as(alpha))
    assert ((alpha >= 0) & (alpha <= 1)).all()
    assert fake.grad is None


def test_every_applies_only_on_multiples_and_scales_by_k():
    critic = linear_critic([3.0, 4.0, 0.0])           # |w| = 5
    real, fake = batches()
    penalty = build_penalty({"kind": "zero-gp", "lambda": 2.0, "every": 4})
    assert penalty(critic, real, fake, step=1).item() == 0.0
    assert penalty(critic, real, fake, step=3).item() == 0.0
    assert penalty(critic, real, fake, step=8).item() == pytest.approx(4 * 2.0 * 25, rel=1e-9)


def test_schedules_at_chosen_steps():
    decay = parse_schedule("decay(range=10:0 steps=100 start=50 metric=gp_lambda)", "lambda")
    assert isinstance(decay, Decay) and decay.metric == "gp_lambda"
    assert [decay(step) for step in (0, 50, 100, 125, 150, 10_000)] == [10, 10, 5, 2.5, 0, 0]
    linear_from_zero = parse_schedule("decay(range=1:3 steps=4)", "lambda")
    assert [linear_from_zero(step) for step in (0, 1, 2, 4, 5)] == [1, 1.5, 2, 3, 3]
    anneal = parse_schedule("anneal(0.5 T=10)", "lambda")
    assert isinstance(anneal, Anneal)
    assert anneal(0) == 1.0 and anneal(10) == 0.5 and anneal(20) == pytest.approx(0.25)
    assert parse_schedule(2.5, "lambda")(1000) == 2.5


def test_scheduled_lambda_and_flex_drive_the_penalty():
    critic = linear_critic([3.0, 4.0, 0.0])
    real, fake = batches()
    penalty = build_penalty({"kind": "zero-gp", "lambda": "decay(range=10:0 steps=10)"})
    assert penalty(critic, real, fake, step=5).item() == pytest.approx(5 * 25, rel=1e-9)
    assert penalty(critic, real, fake, step=10).item() == 0.0
    flex = build_penalty({"kind": "flex", "wrt": "inputs", "lambda": 1.0,
                          "flex": ["decay(range=0:4 steps=4 metric=x_flex)", 0.0]})
    # at step 2 the x margin is 2: relu(|(3, 4, 0)| - 2) = (1, 2, 0)
    assert flex(critic, real, fake, step=2).item() == pytest.approx((math.sqrt(5) + 5) / 2, rel=1e-6)
    assert flex.schedule_values(2) == {"x_flex": 2.0}


def test_hypergan_seed_example_loads_verbatim():
    penalty = build_penalty(dict(SEED_HYPERGAN_EXAMPLE))
    assert isinstance(penalty, FlexPenalty)
    assert penalty.loss == "g_loss"
    assert penalty.lambda_at(0) == 1.0
    assert penalty.components == ("discriminator",) and penalty.target == "discriminator"
    assert penalty.flex[0](0) == penalty.flex[1](0) == 1.0 and not penalty.separate
    lower = dict(SEED_HYPERGAN_EXAMPLE, **{
        "class": "function:hypergan.train_hooks.gradient_penalty_train_hook.gradientpenaltytrainhook"})
    assert build_penalty(lower).loss == "g_loss"
    listed = build_penalty(dict(SEED_HYPERGAN_EXAMPLE, flex=[0.0, 10.0], loss="d_loss"))
    assert listed.separate and listed.loss == "d_loss" and listed.flex[1](0) == 10.0


def test_hypergan_default_components_are_both():
    penalty = build_penalty({"class": SEED_HYPERGAN_EXAMPLE["class"]})
    assert penalty.components == ("discriminator", "generator")


@pytest.mark.parametrize("config, named", [
    ({"kind": "wgan-gpp"}, "wgan-gpp"),
    ({"lambda": 10}, "kind"),
    ({"kind": "wgan-gp", "lamda": 10}, "lamda"),
    ({"kind": "wgan-gp", "flex": 1.0}, "flex"),
    ({"kind": "wgan-gp", "lambda": -1}, "lambda"),
    ({"kind": "wgan-gp", "lambda": "decay(range=-1:0 steps=10)"}, "lambda"),
    ({"kind": "wgan-gp", "lambda": True}, "lambda"),
    ({"kind": "wgan-gp", "lambda": 1e308}, "lambda must be at most 1e"),
    ({"kind": "r1", "lambda": "decay(range=10:2e6 steps=10)"}, "06 (beyond it float32 rounding drops the game loss"),
    ({"kind": "flex", "flex": [0.0, 1.0, 2.0]}, "flex"),
    ({"kind": "flex", "flex": []}, "flex"),
    ({"kind": "flex", "flex": "lots"}, "flex"),
    ({"kind": "flex", "flex": {"x": 1}}, "flex"),
    ({"kind": "flex", "flex": [0.0, None]}, "flex[1]"),
    ({"kind": "flex", "flex": -0.5}, "flex"),
    ({"kind": "flex", "components": ["encoder"]}, "encoder"),
    ({"kind": "flex", "components": ["z_discriminator", "discriminator"]}, "z_discriminator"),
    ({"kind": "flex", "target": "generator"}, "target"),
    ({"kind": "flex", "wrt": "weights"}, "wrt"),
    ({"kind": "wgan-gp", "loss": "e_loss"}, "e_loss"),
    ({"kind": "wgan-gp", "every": 0}, "every"),
    ({"kind": "wgan-gp", "every": 1.5}, "every"),
    ({"kind": "wgan-gp", "lambda": "decay(range=1 steps=5)"}, "range"),
    ({"kind": "wgan-gp", "lambda": "decay(range=1:0)"}, "steps"),
    ({"kind": "wgan-gp", "lambda": "decay(range=a:b steps=3)"}, "'a'"),
    ({"kind": "wgan-gp", "lambda": "decay(range=1:0 steps=3 speed=2)"}, "speed"),
    ({"kind": "wgan-gp", "lambda": "decay(range=1:0 steps=0)"}, "steps"),
    ({"kind": "wgan-gp", "lambda": "anneal(T=10)"}, "base"),
    ({"kind": "wgan-gp", "lambda": "anneal(0.5)"}, "T=N"),
    ({"kind": "wgan-gp", "lambda": "warmup(1 T=3)"}, "warmup"),
    ({"kind": "wgan-gp", "lambda": "decay(range=1:0 steps=3"}, "malformed"),
    ({"class": "function:hypergan.train_hooks.other_hook.OtherHook"}, "OtherHook"),
    ({"class": SEED_HYPERGAN_EXAMPLE["class"], "skip_gradients": True}, "skip_gradients"),
    ({"class": SEED_HYPERGAN_EXAMPLE["class"], "components": ["encoder"]}, "encoder"),
    ("wgan-gp", "mapping"),
])
def test_invalid_configs_raise_config_error_naming_the_problem(config, named):
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        build_penalty(config)


def test_config_error_is_a_value_error_and_lists_what_is_allowed():
    with pytest.raises(ValueError) as caught:
        build_penalty({"kind": "flex", "components": ["encoder"]})
    assert "discriminator" in str(caught.value) and "generator" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        build_penalty({"kind": "nope"})
    assert all(kind in str(caught.value) for kind in ("wgan-gp", "r1", "flex", "none"))


class CountingCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.body(x)


@pytest.mark.parametrize("kind, batch", [("r1", "real"), ("r2", "fake")])
def test_r1_r2_reuse_the_loss_forward_pass_with_identical_value_and_gradients(kind, batch):
    torch.manual_seed(0)
    critic = CountingCritic()
    real, fake = batches()
    penalty = build_penalty({"kind": kind, "lambda": 3.0})
    recomputed = penalty(critic, real, fake)
    recomputed_grads = torch.autograd.grad(recomputed, list(critic.parameters()), allow_unused=True)
    reused_input = (real if batch == "real" else fake).clone().requires_grad_(True)
    inputs = {"real": reused_input, "fake": fake} if batch == "real" else {"real": real, "fake": reused_input}
    scores = critic(reused_input)
    calls = critic.calls
    reused = penalty(critic, inputs["real"], inputs["fake"], **{f"{batch}_scores": scores})
    assert critic.calls == calls                       # no second forward pass
    torch.testing.assert_close(reused, recomputed)
    for a, b in zip(torch.autograd.grad(reused, list(critic.parameters()), allow_unused=True), recomputed_grads):
        assert (a is None) == (b is None)      # the output bias never reaches an input gradient
        if a is not None:
            torch.testing.assert_close(a, b)


def test_fraction_evaluates_the_penalty_on_a_leading_sub_batch():
    torch.manual_seed(0)
    critic = CountingCritic()
    real, fake = batches(batch=8)
    half = build_penalty({"kind": "r1", "lambda": 2.0, "fraction": 0.3})(critic, real, fake)
    expected = build_penalty({"kind": "r1", "lambda": 2.0})(critic, real[:3], fake[:3])   # ceil(0.3 * 8) = 3
    torch.testing.assert_close(half, expected)
    with pytest.raises(ConfigError, match="fraction"):
        build_penalty({"kind": "r1", "fraction": 0})


def test_penalty_under_bf16_autocast_stays_close_to_float32():
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(48, 64), nn.ReLU(), nn.Linear(64, 1), nn.Flatten(0))
    real, fake = torch.randn(16, 3, 4, 4), torch.randn(16, 3, 4, 4)
    torch.manual_seed(1)
    reference = build_penalty({"kind": "wgan-gp"})(critic, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = build_penalty({"kind": "wgan-gp"})(critic, real, fake)
    assert mixed.dtype == torch.float32 and torch.isfinite(mixed)
    assert mixed.item() == pytest.approx(reference.item(), rel=3e-2)
    mixed.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in critic.parameters())


class AbsoluteGP(InputGradientPenalty):
    """A throw-away kind: lambda * mean | ||grad|| - 1 | at interpolates."""

    kind = "test-absolute-gp"
    evaluated_at = "interpolates"
    formula = "lambda * mean | |grad| - 1 |"

    def shape(self, squared_norms):
        return (squared_norms.sqrt() - 1.0).abs()


def test_a_new_kind_is_one_class_and_one_registry_line(tmp_path, monkeypatch, capsys):
    from gpbench.cli import main
    from gpbench.training.config import resolve
    from gpbench.training.train import Trainer

    monkeypatch.setitem(REGISTRY, AbsoluteGP.kind, AbsoluteGP)
    critic = linear_critic([3.0, 4.0, 0.0])                        # |w| = 5
    assert build_penalty({"kind": AbsoluteGP.kind, "lambda": 2.0})(critic, *batches()).item() == pytest.approx(8.0)
    torch.set_default_dtype(torch.float32)
    config = resolve({"method": "wgan-gp", "dataset": "8gaussians", "dim": 8, "batch_size": 16, "iterations": 3,
                      "log_every": 1, "threads": 1, "data_root": str(tmp_path), "penalty": {"kind": AbsoluteGP.kind}})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    assert trainer.run() == "completed"
    lines = trainer.run_dir.read_metrics()
    assert all(line["penalty"] > 0 and line["gradient_norm"] > 0 for line in lines)
    assert main(["penalties"]) == 0
    assert "test-absolute-gp" in capsys.readouterr().out


@pytest.mark.parametrize("config, target, one_sided", [
    ({"kind": "wgan-gp"}, 1.0, False), ({"kind": "dragan"}, 1.0, False), ({"kind": "wgan-lp"}, 1.0, True),
    ({"kind": "zero-gp"}, None, False), ({"kind": "r1"}, None, False), ({"kind": "none"}, None, False),
    ({"kind": "flex", "flex": 0.5}, 0.5, True), ({"kind": "flex", "flex": [0.3, 0.1]}, 0.3, True),
    ({"kind": "flex"}, None, True), ({"kind": "flex", "flex": "decay(range=1:0 steps=100)"}, None, True)])
def test_each_penalty_states_its_target_norm_and_whether_it_is_one_sided(config, target, one_sided):
    penalty = build_penalty(config)
    assert (penalty.target_norm, penalty.one_sided) == (target, one_sided)


def test_r1r2_is_r1_plus_r2_on_a_critic_with_a_closed_form_gradient():
    """D(x) = w·x + b: grad D = w at every point, so R1 = R2 = (λ/2)|w|² and R1R2 = λ|w|²; the norm reported is |w|."""
    from gpbench.penalties import build_penalty

    critic = torch.nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, -2.0, 2.0]]))       # |w| = 3
    real, fake = torch.randn(4, 3), torch.randn(4, 3)
    penalty = build_penalty({"kind": "r1r2", "lambda": 2.0})
    real, fake = penalty.prepare(real, fake, 0)
    term = penalty.evaluate(critic, real, fake, real_scores=critic(real), fake_scores=critic(fake))
    assert term.value.item() == pytest.approx(2.0 * 9.0) and term.gradient_norm.item() == pytest.approx(3.0)
    separate = sum(build_penalty({"kind": kind, "lambda": 2.0})(critic, real, fake) for kind in ("r1", "r2"))
    assert term.value.item() == pytest.approx(separate.item())
    term.value.backward()
    assert critic.weight.grad.abs().sum() > 0                            # it trains the critic
