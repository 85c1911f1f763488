"""Every random stream gpbench starts from a run's seed (or a Figure 1 experiment's), in one table.

The training RNGs (torch, numpy, random) are seeded with the seed itself; every other stream starts at
``seed + SEED_OFFSETS[stream]``, so that no two streams of one seed coincide; a new stream takes an unused offset
here. The evaluation's noise does not depend on the run's seed (gpbench.analysis.evaluate.EVAL_SEED: every run is scored
on the same noise).
"""

SEED_OFFSETS = {
    "toy_data_order": 1,               # the one shuffled order 25gaussians' fixed set is cycled in (gan_toy.py)
    "plot_real_points": 2,             # the real toy points drawn under the sample pictures
    "figure1_follow_points": 11,       # Fig. 1a's rotated-pair measure: the data points rotated off the data
    "figure1_follow_reference": 12,    # ... and the reference points they are measured against
    "train_subset": 7919,              # the fixed train_subset draw (Fig. 4b)
    "plot_noise": 12_345,              # the fixed noise of the sample pictures
    "dev_noise": 54_321,               # the generator noise of the dev critic cost, plus the iteration
    "dev_held_out": 104_729,           # the held-out sample of the dev critic cost
    "dev_training_sample": 104_730,    # the fresh toy sample standing in for its training data
}


def stream_seed(seed: int, stream: str) -> int:
    return seed + SEED_OFFSETS[stream]
