"""What the papers say, in one place: the official scripts' presets per (architecture, method), the numbers the
papers report, and the method sets and constants of each figure and table.

Sources: Gulrajani et al. 2017 and its official scripts gan_toy.py, gan_mnist.py, gan_cifar.py,
gan_cifar_resnet.py, gan_64x64.py (docs/replication.md); R3GAN (Huang et al. 2024) for the ``r3gan`` preset.
Published numbers with their protocols are in ``published.yaml`` beside this file (:mod:`gpbench.paper.published`).
Run-config validation is :mod:`gpbench.training.config`; a number here is not re-typed anywhere else.

Optimizers: ``adam`` is torch.optim.Adam; ``rmsprop-tf`` is TensorFlow 1's RMSPropOptimizer as the scripts
ran it (decay 0.9, epsilon 1e-10 inside the square root, mean-square accumulator initialised to 1);
``rmsprop`` is PyTorch's RMSprop (alpha 0.99, eps 1e-8, accumulator 0), as many PyTorch ports use.
"""

from __future__ import annotations

import copy

from gpbench.models.zoo import RESNET_BLOCKS

# Per-script settings shared by the methods (batch, iterations, DIM, the critic's depth for MLPs; the image
# scripts compute the dev critic cost on the whole 10k dev split / test set every 100 iterations).
SCRIPTS = {
    "toy": {"batch_size": 256, "iterations": 100_000, "dim": 512, "depth": 3},         # gan_toy.py
    "deep-mlp": {"batch_size": 256, "iterations": 100_000, "dim": 512, "depth": 12},   # paper Fig. 1b (no code)
    "mnist": {"batch_size": 50, "iterations": 200_000, "dim": 64, "dev_samples": 10_000},     # gan_mnist.py
    "cifar10": {"batch_size": 64, "iterations": 200_000, "dim": 128, "dev_samples": 10_000},  # gan_cifar.py
    "cifar10-resnet": {"batch_size": 64, "generator_batch_size": 128, "iterations": 100_000, "dim": 128,
                       "lr_decay": "linear", "dequantize": True, "dev_samples": 10_000},     # gan_cifar_resnet.py
    # gan_64x64.py (Figure 2): batch 64, DIM 64, 200k iterations, 6 bottleneck blocks per resolution
    "figure2": {"batch_size": 64, "iterations": 200_000, "dim": 64, "resnet_blocks": RESNET_BLOCKS},
    # Table 1: the paper gives no training length or batch for its random architectures; gpbench's choice is
    # gan_64x64.py's (docs/replication.md, "Robustness across architectures")
    "random": {"batch_size": 64, "iterations": 200_000, "dim": 64},
}
# The scripts' three modes. `wgan` = weight clipping, `dcgan` = NS-GAN with the halved critic loss.
MODES = {
    "wgan-gp": {"game": "wgan", "optimizer": "adam", "lr": 1e-4, "betas": [0.5, 0.9], "n_critic": 5,
                "penalty": {"kind": "wgan-gp", "lambda": 10.0}},
    "wgan-clip": {"game": "wgan", "optimizer": "rmsprop-tf", "lr": 5e-5, "n_critic": 5, "clip": 0.01},
    # Fig. 3's "WGAN-GP with RMSProp ... to control for the optimizer": the paper gives no learning rate for it;
    # gpbench uses the clipping mode's optimizer, so the curve differs from clipping by the penalty (and, on MNIST,
    # by batchnorm: the clipping mode has it in both nets, and a per-sample penalty rules it out in the critic).
    "wgan-gp-rmsprop": {"game": "wgan", "optimizer": "rmsprop-tf", "lr": 5e-5, "n_critic": 5,
                        "penalty": {"kind": "wgan-gp", "lambda": 10.0}},
    "ns-gan": {"game": "ns", "optimizer": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "n_critic": 1,
               "halve_d_loss": True},
    "mm-gan": {"game": "mm", "optimizer": "adam", "lr": 2e-4, "betas": [0.5, 0.999], "n_critic": 1,
               "halve_d_loss": True},
    # gan_64x64.py's `lsgan` mode (Figure 2's fourth method): least squares, TF RMSProp 1e-4, one critic step
    "lsgan": {"game": "ls", "optimizer": "rmsprop-tf", "lr": 1e-4, "n_critic": 1},
    # R3GAN (Huang et al. 2024; brownvc/R3GAN at 19a7ddf): critic loss softplus(D(g) - D(x)) + (gamma/2)(|grad
    # D(x)|^2 + |grad D(g)|^2) per sample (R3GAN/Trainer.py) = the rp game with r1r2 at lambda = gamma; Adam
    # betas (0, beta2), eps 1e-8 (train.py), one D step then one G step (training/training_loop.py). Its CIFAR-10
    # preset (train.py) cosine-decays lr 2e-4 -> 5e-5, beta2 0.9 -> 0.99, gamma 0.05 -> 0.005 over 20M images;
    # gpbench's runs see well under 1 % of that, so the starting values hold throughout.
    "r3gan": {"game": "rp", "optimizer": "adam", "lr": 2e-4, "betas": [0.0, 0.9], "n_critic": 1,
              "penalty": {"kind": "r1r2", "lambda": 0.05}},
}
# Where a preset that is not the paper's comes from (default: gpbench's extrapolation of the paper's modes).
MODE_SOURCES = {"r3gan": "R3GAN's CIFAR-10 preset (brownvc/R3GAN train.py) at its schedules' starting values, "
                         "extrapolated to this net"}
# Where the scripts differ from the mode defaults.
SCRIPT_EXCEPTIONS = {
    ("toy", "wgan-gp"): {"penalty": {"kind": "wgan-gp", "lambda": 0.1}},    # "smaller lambda ... for toy tasks"
    ("deep-mlp", "wgan-gp"): {"penalty": {"kind": "wgan-gp", "lambda": 0.1}},
    ("toy", "wgan-gp-rmsprop"): {"penalty": {"kind": "wgan-gp", "lambda": 0.1}},
    ("cifar10-resnet", "wgan-gp"): {"lr": 2e-4, "betas": [0.0, 0.9]},
    ("figure2", "wgan-gp"): {"betas": [0.0, 0.9]},                          # gan_64x64.py: Adam(1e-4, 0, 0.9)
    ("random", "wgan-gp"): {"betas": [0.0, 0.9]},
}
# gan_mnist.py's `dcgan` mode has no batchnorm in G; with its sigmoid output that generator saturates (every
# sample the same near-black image, IS 1.000) within a few hundred iterations, seed after seed, and the baseline
# is dead. Radford et al.'s DCGAN has batchnorm in G (as gan_cifar.py in every mode), which gpbench adds for
# the standard-GAN games on MNIST; `generator_batchnorm: false` gives the script's net. docs/replication.md; the
# same problem is reported upstream as igul222/improved_wgan_training issue #23.
MNIST_GAN_GENERATOR_BATCHNORM = ("ns-gan", "mm-gan", "lsgan")
# Batchnorm (generator, critic) per (arch, method): gan_mnist.py only in `wgan` mode, in both nets; gan_cifar.py
# always in G, in the critic's inner convs except in wgan-gp mode; the ResNet G always, its critic never.
# One deviation (MNIST_GAN_GENERATOR_BATCHNORM): the standard-GAN games on MNIST get DCGAN's batchnorm in G.
BATCHNORM = {
    "mnist": lambda method: (method == "wgan-clip" or method in MNIST_GAN_GENERATOR_BATCHNORM, method == "wgan-clip"),
    "cifar10": lambda method: (True, "penalty" not in MODES[method]),      # no batchnorm under a per-sample penalty
    "cifar10-resnet": lambda method: (True, False),
    "toy": lambda method: (False, False),
    "deep-mlp": lambda method: (False, False),
    # Figure 2's row or Table 1's draw decides where normalisation goes; the method decides which (model_options)
    "figure2": lambda method: (True, True),
    "random": lambda method: (True, True),
}
METHODS = tuple(MODES)
# Which presets are the paper's own; the others are gpbench's extrapolations, said so in config.yaml.
PAPER_PRESETS = {(arch, method) for arch in ("mnist", "cifar10") for method in ("wgan-gp", "wgan-clip", "ns-gan")}
PAPER_PRESETS |= {("toy", "wgan-gp"), ("toy", "wgan-clip"), ("cifar10-resnet", "wgan-gp"), ("cifar10", "wgan-gp-rmsprop")}


def preset(arch: str, method: str) -> dict:
    """The fully specified preset for (arch, method): script settings, mode settings, the script's quirks."""
    values = {**SCRIPTS[arch], **copy.deepcopy(MODES[method]), **copy.deepcopy(SCRIPT_EXCEPTIONS.get((arch, method), {}))}
    values["generator_batchnorm"], values["critic_batchnorm"] = BATCHNORM[arch](method)
    values["preset_source"] = ("Gulrajani et al. 2017 official script" if (arch, method) in PAPER_PRESETS
                               else MODE_SOURCES.get(method, "gpbench extrapolation (not in the paper's code)"))
    if arch == "mnist" and method in MNIST_GAN_GENERATOR_BATCHNORM:
        values["preset_source"] += ", with DCGAN's batchnorm in G (the script's dcgan-mode G saturates)"
    return values


# The tables' comparisons: every method against WGAN-GP, and WGAN-GP with RMSProp against clipping (the same
# optimizer, Fig. 3's control).
REFERENCE_METHOD = "wgan-gp"
SAME_OPTIMIZER = ("wgan-gp-rmsprop", "wgan-clip")

# Figure 1 (fixed-generator critics): steps and sizes; the optimizers, lambda and c come from the presets.
# The paper trains the toy critics to optimality and the 12-layer critic (width 512, Fig. 1b) briefly; gpbench
# repeats every critic for each seed and reports mean +- std over seeds (the paper shows one run).
FIGURE1_DEFAULTS = {"critic_steps": 10_000, "width": 512, "deep_steps": 300, "deep_width": 512,
                    "average_last": 20, "batch_size": 256, "seeds": [0, 1, 2]}
FIGURE1_METHODS = ("wgan-clip", "wgan-gp")       # the rows of Fig. 1a (its toys: the dataset rows with in_figure1)
FIGURE1_CLIP_VALUES = (0.1, 0.01, 0.001)         # Fig. 1b left's c
FIGURE1_DEEP_DATASET = "swissroll"                # Fig. 1b left: the 12-layer critic's data
FIGURE1_WEIGHTS = ("swissroll", 0.01)             # Fig. 1b right: whose 3-layer critics' weights, and c

# Figure 2 (gan_64x64.py): its modes dcgan, lsgan, wgan, wgan-gp, on each of the zoo's rows (gpbench.models.zoo)
FIGURE2_METHODS = ("ns-gan", "lsgan", "wgan-clip", "wgan-gp")

# Figure 4: "a random 1000-digit subset of MNIST" (Fig. 4b); NS-GAN is Fig. 4a's control (the GAN
# discriminator's loss beside the critics' negative losses)
FIGURE4_DATASET = "mnist"
FIGURE4_SUBSET = 1000
FIGURE4_METHODS = ("wgan-gp", "wgan-clip", "ns-gan")

# Table 1 (200 random architectures, 32x32 ImageNet): the standard GAN against WGAN-GP; minimum Inception
# score -> architectures that pass it with only the standard GAN, only WGAN-GP, both, neither
TABLE1_METHODS = ("ns-gan", "wgan-gp")
REPORTED_TABLE1 = {1.0: (0, 8, 192, 0), 3.0: (1, 88, 110, 1), 5.0: (0, 147, 42, 11), 7.0: (1, 104, 5, 90),
                   9.0: (0, 0, 0, 200)}
