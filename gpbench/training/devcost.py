"""Gulrajani's "dev disc cost" (penalty left out), logged every ``dev_every`` iterations: the critic's loss and
Wasserstein estimate on held-out real data, the estimate on a fixed training sample of the same size against the
same generated samples, and the standard error of their difference (mean D(training) - mean D(held-out), the
overfitting gap of Fig. 4b; gpbench.analysis.overfitting reads it back)."""

from __future__ import annotations

import torch

from gpbench.data import DevData
from gpbench.seeds import stream_seed


class DevCost:
    def __init__(self, dev: DevData, seed: int, batch_size: int, device: torch.device):
        self.dev, self.seed, self.batch_size, self.device = dev, seed, batch_size, device

    @torch.no_grad()
    def statistics(self, critic, generator, noise_dim: int, loss, iteration: int) -> dict:
        """The dev statistics (device tensors) of ``critic`` against ``generator``'s samples at ``iteration``; on
        forked RNG streams, so training continues exactly as without them. ``loss``: the run's GanLoss."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(stream_seed(self.seed, "dev_noise") + iteration)

            def scores(samples: torch.Tensor) -> torch.Tensor:
                return torch.cat([critic(chunk) for chunk in samples.split(self.batch_size)]).float()

            count = len(self.dev.held_out)
            fake = torch.cat([generator(torch.randn(len(chunk), noise_dim, device=self.device))
                              for chunk in torch.arange(count).split(self.batch_size)])
            fake_scores = scores(fake)
            held_out = scores(torch.from_numpy(self.dev.held_out).to(self.device))
            training = scores(torch.from_numpy(self.dev.training).to(self.device))
            gap_variance = held_out.var() / len(held_out)          # the mean over all training data is exact
            if not self.dev.training_complete:
                gap_variance = gap_variance + training.var() / len(training)
            return {"dev_d_loss": loss.discriminator_loss(held_out, fake_scores),
                    "dev_wasserstein_estimate": held_out.mean() - fake_scores.mean(),
                    "dev_train_wasserstein_estimate": training.mean() - fake_scores.mean(),
                    "dev_gap_standard_error": gap_variance.sqrt()}
