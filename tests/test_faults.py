"""Fault injection: every class of bad input or damaged run file a user can cause ends in one line naming the
file, key or option, exit 2, nothing written or lost; damaged runs resume; diverged runs flow on."""

import contextlib
import csv
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from gpbench.cli import main
from gpbench.training.config import resolve
from gpbench.errors import ConfigError, RunDirError
from gpbench.training.rundir import CHECKPOINT, PREVIOUS_CHECKPOINT, RunDir
from gpbench.training.train import Trainer

REPO = Path(__file__).resolve().parents[1]
SHORT = ["--set", "iterations=20", "--set", "dim=8", "--set", "batch_size=16", "--set", "threads=1",
         "--set", "checkpoint_every=5", "--set", "log_every=1"]


def run_config(tmp_path, text="method: wgan-gp\ndataset: 25gaussians\n", name="run.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def one_line_error(capsys, verb="train") -> str:
    """The one error line on stderr (progress bars aside), and no traceback."""
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if ": error:" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"gpbench {verb}: error:"), errors[0]
    return errors[0]


def fails_cleanly(capsys, argv, named, verb="train"):
    """Exit 2 with one line that names ``named``."""
    assert main(argv) == 2
    error = one_line_error(capsys, verb)
    assert named in error, error
    return error


def train(tmp_path, out, *extra):
    assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT, *extra]) == 0
    return RunDir(out)


def interrupted(tmp_path, out, stop_at: int, interrupt_at) -> RunDir:
    """A run stopped by Ctrl-C at iteration ``stop_at`` (its last checkpoint is at 5, 10, ...)."""
    with interrupt_at(stop_at):
        assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 130
    return RunDir(out)


def final_generator(run: RunDir) -> dict:
    return run.load_checkpoint()["generator"]


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


# --- class 1: damaged run files ------------------------------------------------------------------------

def test_a_cut_last_line_of_metrics_jsonl_is_dropped_and_the_run_resumes(tmp_path, capsys, interrupt_at):
    reference = train(tmp_path, tmp_path / "reference")
    run = interrupted(tmp_path, tmp_path / "cut", 12, interrupt_at)
    with open(run.file("metrics.jsonl"), "r+") as handle:        # what a full disk leaves: half a line
        handle.truncate(os.path.getsize(run.file("metrics.jsonl")) - 30)
    assert main(["train", run_config(tmp_path), "--out", str(run.path), *SHORT]) == 0
    assert run.read_status()["status"] == "completed"
    assert [line["iteration"] for line in run.read_metrics()] == list(range(20))
    assert_same_weights(final_generator(reference), final_generator(run))


def test_a_damaged_line_inside_a_jsonl_file_is_named(tmp_path):
    run = train(tmp_path, tmp_path / "run")
    lines = run.file("metrics.jsonl").read_text().splitlines()
    lines[3] = lines[3][:10]
    run.file("metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunDirError, match=r"metrics.jsonl is damaged at line 4"):
        run.read_metrics()


@pytest.mark.parametrize("last", ['{"iteration": 2, "fid"', '{"iteration": 2, "fid": 5.0}'])
def test_an_append_after_a_last_line_without_newline_never_lands_on_it(tmp_path, last):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.file("eval.jsonl").write_text('{"iteration": 1, "fid": 7.0}\n' + last)   # a kill mid-line, or no newline
    run.append_eval_curve({"iteration": 3, "fid": 4.0})
    whole = last.endswith("}")
    assert [line["iteration"] for line in run.read_eval_curve()] == ([1, 2, 3] if whole else [1, 3])
    assert run.file("eval.jsonl").read_text().endswith('{"iteration": 3, "fid": 4.0}\n')


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_says_interrupted_and_counts_nowhere(tmp_path, capsys, caplog):
    out = tmp_path / "run"
    command = [sys.executable, "-c", "import sys; from gpbench.cli import main; sys.exit(main())", "train",
               run_config(tmp_path), "--out", str(out), *SHORT, "--set", "iterations=100000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / CHECKPOINT).is_file() and process.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)                # how Snakemake and SLURM stop a job
    stderr = process.communicate(timeout=60)[1]
    assert process.returncode == 128 + signal.SIGTERM and stderr.strip().splitlines()[-1] == \
        "gpbench train: stopped by SIGTERM"
    status = RunDir(out).read_status()
    assert status["status"] == "interrupted" and status["resumes_from"] % 5 == 0 and status["resumes_from"] >= 5
    assert status["message"].startswith(f"stopped by SIGTERM at iteration {status['iteration']} of 100000; the "
                                        f"same command resumes from the checkpoint at iteration {status['resumes_from']}")
    assert main(["eval", str(out), "--samples", "200", "--curve-samples", "100"]) == 0
    assert "did not finish (status interrupted" in caplog.text
    assert main(["table", "replication", str(out / "eval.json"), "--out", str(tmp_path / "table")]) == 0
    [record] = list(csv.DictReader(open(tmp_path / "table_runs.csv")))
    assert record["counted"] == f"no: unfinished (interrupted at iteration {status['iteration']})"
    assert "unfinished seed 0 (interrupted" in (tmp_path / "table.md").read_text()
    assert main(["diagnose", str(out)]) == 0
    assert "the run did not finish" in capsys.readouterr().out


def test_a_checkpoint_with_flipped_bytes_falls_back_to_the_previous_one(tmp_path, capsys, caplog, interrupt_at):
    reference = train(tmp_path, tmp_path / "reference")
    run = interrupted(tmp_path, tmp_path / "flipped", 12, interrupt_at)
    data = bytearray(run.file(CHECKPOINT).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    run.file(CHECKPOINT).write_bytes(bytes(data))
    assert main(["train", run_config(tmp_path), "--out", str(run.path), *SHORT]) == 0
    assert "resuming from checkpoint.prev.pt at iteration 5" in caplog.text
    assert_same_weights(final_generator(reference), final_generator(run))


def test_no_usable_checkpoint_says_the_run_must_restart(tmp_path, capsys, interrupt_at):
    run = interrupted(tmp_path, tmp_path / "run", 12, interrupt_at)
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        run.file(name).write_bytes(b"garbage")
    error = fails_cleanly(capsys, ["train", run_config(tmp_path), "--out", str(run.path), *SHORT], "must restart")
    assert str(run.path) in error


class _Payload:
    """A pickle that runs a shell command when unpickled (what a forged run file in a shared folder would hold)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_forged_run_file_is_refused_and_runs_nothing(tmp_path, capsys):
    run = train(tmp_path, tmp_path / "run")
    marker = tmp_path / "owned"
    for path in [run.file(CHECKPOINT), run.file(PREVIOUS_CHECKPOINT)] + [path for _, path in run.snapshots()]:
        torch.save({"iteration": 20, "generator": _Payload(marker)}, path)
    error = fails_cleanly(capsys, ["diagnose", str(run.path)], "refused: it holds posix.system", verb="diagnose")
    assert "no usable checkpoint" in error and not marker.exists()
    assert main(["eval", str(run.path), "--samples", "100"]) == 2
    assert not marker.exists()
    capsys.readouterr()


def test_damaged_config_and_eval_files_are_one_line_errors(tmp_path, capsys):
    run = train(tmp_path, tmp_path / "run")
    assert main(["eval", str(run.path), "--samples", "100", "--curve-samples", "100"]) == 0
    run.file("eval.json").write_text('{"metrics": ')
    assert main(["table", "replication", str(run.path), "--out", str(tmp_path / "table")]) == 2
    assert "eval.json is damaged" in one_line_error(capsys, "table")
    with open(run.file("eval.jsonl"), "a") as handle:                       # a cut last line: dropped
        handle.write('{"iter')
    assert main(["eval", str(run.path), "--samples", "100", "--curve-samples", "100"]) == 0
    capsys.readouterr()
    run.file("config.yaml").write_text("method: [wgan-gp\n")
    fails_cleanly(capsys, ["eval", str(run.path)], "config.yaml is not valid YAML at line 2", verb="eval")


@pytest.mark.parametrize("status", ["null", "{bad", '["completed"]'])
def test_a_damaged_status_json_counts_the_run_nowhere(tmp_path, capsys, status):
    run = train(tmp_path, tmp_path / "run")
    run.file("status.json").write_text(status)
    assert main(["eval", str(run.path), "--samples", "100", "--curve-samples", "100"]) == 0
    assert main(["table", "replication", str(run.path), "--out", str(tmp_path / "table")]) == 0
    [record] = list(csv.DictReader(open(tmp_path / "table_runs.csv")))
    assert record["counted"].startswith("no: unfinished (unknown")
    capsys.readouterr()
    assert main(["diagnose", str(run.path)]) == 0
    assert "the run did not finish (how far of 20 iterations unknown): status.json is damaged" in capsys.readouterr().out


def test_a_metrics_line_without_its_iteration_is_named(tmp_path, capsys):
    run = train(tmp_path, tmp_path / "run")
    with open(run.file("metrics.jsonl"), "a") as handle:
        handle.write('{"d_loss": 1.0}\n')
    fails_cleanly(capsys, ["diagnose", str(run.path)], "metrics.jsonl line 21 has no whole-number 'iteration'",
                  verb="diagnose")


def test_a_reader_that_leaves_early_ends_the_verb_quietly(tmp_path):
    """`gpbench diagnose RUN | head -1`: the pipe closes before the report is written; no error line, exit 141."""
    run = train(tmp_path, tmp_path / "run")
    process = subprocess.Popen([sys.executable, "-m", "gpbench.cli", "diagnose", str(run.path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()                        # the reader is gone before anything is written
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGPIPE
    assert "error" not in errors.lower() and "Traceback" not in errors


def test_checkpoints_without_their_keys_or_of_another_shape_are_one_line_errors(tmp_path, capsys, interrupt_at):
    from gpbench.fileio import state_digest

    run = interrupted(tmp_path, tmp_path / "keys", 12, interrupt_at)
    for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
        state = torch.load(run.file(name), weights_only=True)
        del state["critic"], state["checksum"]
        torch.save(state, run.file(name))
    fails_cleanly(capsys, ["train", run_config(tmp_path), "--out", str(run.path), *SHORT],
                  "no usable checkpoint (checkpoint.pt: ValueError: not a gpbench checkpoint: no 'critic'")
    run = interrupted(tmp_path, tmp_path / "shape", 12, interrupt_at)
    state = torch.load(run.file(CHECKPOINT), weights_only=True)
    del state["checksum"]
    state["generator"] = {name: torch.zeros(3, *value.shape) for name, value in state["generator"].items()}
    torch.save({**state, "checksum": state_digest(state)}, run.file(CHECKPOINT))
    fails_cleanly(capsys, ["train", run_config(tmp_path), "--out", str(run.path), *SHORT],
                  "checkpoint.pt holds models or optimizers of another shape than this config builds")


# --- class 2: divergence flows through the pipeline ------------------------------------------------------

def test_divergence_before_the_first_checkpoint_is_evaluated_and_tabled(tmp_path, capsys):
    out = tmp_path / "diverged"
    assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT, "--set", "lr=1.0e+30"]) == 0
    printed = capsys.readouterr().out
    assert "diverged at iteration 0" in printed and "no checkpoint was written" in printed
    assert RunDir(out).read_status()["status"] == "diverged" and not RunDir(out).has_checkpoint()
    assert main(["eval", str(out)]) == 0
    assert RunDir(out).read_eval()["status"] == "diverged"
    assert main(["table", "replication", str(out), "--out", str(tmp_path / "table")]) == 0
    assert "diverged seed 0 at 0" in (tmp_path / "table.md").read_text()


def test_an_exploding_ns_gan_is_caught_by_the_finiteness_check(tmp_path, capsys):
    out = tmp_path / "ns"
    assert main(["train", run_config(tmp_path, "method: ns-gan\ndataset: 8gaussians\n"), "--out", str(out), *SHORT,
                 "--set", "lr=1.0e+6"]) == 0
    status = RunDir(out).read_status()
    assert status["status"] == "diverged" and "non-finite parameters or optimizer state" in status["message"]


# --- classes 3, 6, 8 (pipeline): no caption, quoted shell values, threads not part of a run's identity ----

@pytest.mark.slow
def test_a_suite_without_caption_and_with_shell_characters_runs_safely(tmp_path):
    suite = {"suite": "probe", "seeds": [0], "data_root": "data dir; touch PWNED_DATA", "threads": 1,
             "replication": [{"datasets": ["8gaussians"], "methods": ["wgan-gp"],
                              "overrides": {"dim": 8, "batch_size": 16, "iterations": 2, "checkpoint_every": 1}}],
             "eval": {"samples": {"8gaussians": 100}, "curve_samples": {"8gaussians": 100},
                      "inception_weights": "w.pth; touch PWNED"}}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "1",
               "--configfile", str(tmp_path / "suite.yaml")]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert not list(tmp_path.glob("PWNED*"))
    table = (tmp_path / "results/probe/tables/replication.md").read_text().splitlines()
    assert table[0] == "# Replication: Gulrajani et al. 2017" and table[1] == "" and table[2] == "## 8gaussians"
    suite["threads"] = 2                                  # speed only: nothing is retrained
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    again = subprocess.run([*command, "-n"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "Nothing to be done" in again.stdout + again.stderr
    # an edited run setting: the finished run is kept whole, and its train log says in one line what to do
    run = tmp_path / "runs/probe/8gaussians/wgan-gp/seed0"
    kept = {name: (run / name).read_bytes() for name in ("status.json", "checkpoint.pt", "metrics.jsonl", "eval.json")}
    suite["replication"][0]["overrides"]["iterations"] = 3
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    edited = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert edited.returncode != 0
    assert {name: (run / name).read_bytes() for name in kept} == kept
    assert (run / "train.log").read_text().strip().splitlines()[-1] == (
        "gpbench train: error: runs/probe/8gaussians/wgan-gp/seed0 holds a run with another config (iterations: 2 there, 3 now); "
        "to keep it, undo the change or train into another --out (in a suite: another suite name); to train afresh "
        "here, move that directory aside")


@pytest.mark.parametrize("where", ["variant", "suite"])
def test_shell_metacharacters_in_a_name_stop_the_suite_in_one_line_and_run_nothing(tmp_path, where):
    suite = yaml.safe_load((REPO / "configs/tiny.yaml").read_text())
    name = "a'$(touch PWNED)`touch PWNED2`"
    if where == "variant":
        suite["flex"] = {**suite["flex"], "variants": {name: {"kind": "wgan-gp"}}}
        suite["flex"].pop("variants_file", None)
    else:
        suite["suite"] = name
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "1",
                             "--configfile", str(tmp_path / "suite.yaml")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert not list(tmp_path.glob("PWNED*")) and not (tmp_path / "runs").exists()
    assert result.returncode != 0
    if where == "variant":                  # the suite name (and an arch) the schema refuses, in Snakemake's words
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1] == (
            f"error: flex.variants: {name!r} is not allowed as a name; use letters, digits, '.' and '-', "
            "starting with a letter or digit")


def test_threads_may_change_when_a_run_resumes(tmp_path):
    settings = dict(method="wgan-gp", dataset="8gaussians", dim=8, batch_size=16, iterations=4, checkpoint_every=2,
                    threads=1, data_root=str(tmp_path / "data"))
    Trainer(resolve({**settings, "iterations": 2}), tmp_path / "run", progress=False).run()
    with pytest.raises(ConfigError, match="iterations"):     # the identity does include what changes results
        Trainer(resolve(settings), tmp_path / "run", progress=False)
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    config.update(threads=2, log_every=7)
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(config))
    assert Trainer(resolve({**settings, "iterations": 2, "threads": 2}), tmp_path / "run", progress=False).run() \
        == "completed"



def test_a_run_is_called_by_its_name_everywhere_and_a_new_name_resumes_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT, "--set", "iterations=10",
                 "--set", "name=wgan-gp-my-variant"]) == 0
    captured = capsys.readouterr()
    assert "completed 10 iterations of wgan-gp-my-variant on 25gaussians" in captured.out
    assert "wgan-gp-my-variant 25gaussians seed 0" in captured.err                  # the progress line
    assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT, "--set", "iterations=10",
                 "--set", "name=renamed"]) == 0
    assert "completed 10 iterations of renamed" in capsys.readouterr().out        # a label, not the run's identity
    for bad in ("name=''", "name=[1]"):
        fails_cleanly(capsys, ["train", run_config(tmp_path), "--out", str(tmp_path / "bad"), *SHORT, "--set", bad],
                      "name: expected a label")
    assert not (tmp_path / "bad").exists()

# --- class 5: one trainer per run directory --------------------------------------------------------------

def test_a_second_trainer_on_the_same_directory_is_refused_in_one_line(tmp_path, capsys):
    config = resolve(dict(method="wgan-gp", dataset="8gaussians", dim=8, batch_size=16, iterations=2, threads=1,
                          data_root=str(tmp_path / "data")))
    first = Trainer(config, tmp_path / "run", progress=False)
    path = run_config(tmp_path, yaml.safe_dump({k: config[k] for k in ("method", "dataset", "dim", "batch_size",
                                                                       "iterations", "threads", "data_root")}))
    error = fails_cleanly(capsys, ["train", path, "--out", str(tmp_path / "run")], "is being trained by process")
    assert str(os.getpid()) in error
    assert first.run() == "completed"                       # the holder was not disturbed


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").write_text(f"process {dead.stdout.strip()} on this host (since yesterday)\n")
    config = resolve(dict(method="wgan-gp", dataset="8gaussians", dim=8, batch_size=16, iterations=2, threads=1,
                          data_root=str(tmp_path / "data")))
    assert Trainer(config, tmp_path / "run", progress=False).run() == "completed"


# --- class 7: silent wrong results are refused or fixed --------------------------------------------------

@pytest.mark.parametrize("text, named", [
    ("method: wgan-gp\ndataset: 8gaussians\npenalty: {kind: wgan-gp, lambda: 'decay(range=1:0 steps=5 metric=iteration)'}\n",
     "metric=iteration would overwrite"),
    ("method: wgan-clip\ndataset: 8gaussians\nclip: .nan\n", "clip: expected a finite number"),
    ("method: wgan-clip\ndataset: 8gaussians\nclip: .inf\n", "clip: expected a finite number"),
    ("method: wgan-gp\ndataset: 8gaussians\nlr: 1e-4\nlr: 2e-4\n", "duplicate key 'lr'"),
])
def test_silent_wrong_configs_are_refused(tmp_path, capsys, text, named):
    out = tmp_path / "run"
    fails_cleanly(capsys, ["train", run_config(tmp_path, text), "--out", str(out)], named)
    assert not out.exists()


@pytest.mark.parametrize("options, named", [
    (["--samples", "0"], "--samples: expected a whole number from 2"),
    (["--samples", "-5"], "--samples"),
    (["--curve-samples", "1"], "--curve-samples"),
    (["--lenet-epochs", "-1"], "--lenet-epochs"),
    (["--metrics", "fid"], "does not apply to 25gaussians"),
    (["--samples", "abc"], "invalid int value"),
    (["--device", "tpu"], "--device: 'tpu' is not allowed; allowed: auto, cpu, cuda, cuda:N"),
    (["--device", "cuda:99"], "--device: 'cuda:99' asked for, but this machine has"),
])
def test_bad_eval_options_are_refused(tmp_path, capsys, options, named):
    run = train(tmp_path, tmp_path / "run")
    capsys.readouterr()
    before = sorted(p.name for p in run.path.iterdir())
    if "abc" in options:                                   # argparse itself, in one line
        with pytest.raises(SystemExit) as caught:
            main(["eval", str(run.path), *options])
        assert caught.value.code == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and named in error, error
    else:
        fails_cleanly(capsys, ["eval", str(run.path), *options], named, verb="eval")
    assert sorted(p.name for p in run.path.iterdir()) == before


def test_a_deleted_config_yaml_does_not_let_another_config_resume_the_checkpoint(tmp_path, capsys, interrupt_at):
    run = interrupted(tmp_path, tmp_path / "run", 12, interrupt_at)
    run.file("config.yaml").unlink()
    fails_cleanly(capsys, ["train", run_config(tmp_path), "--out", str(run.path), *SHORT, "--set", "seed=3"],
                  "checkpoint.pt holds a run with another config (seed: 0 there, 3 now)")


@pytest.mark.slow
def test_rerunning_a_completed_run_keeps_its_data_note(tmp_path, monkeypatch):
    from gpbench.data import images

    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)
    config = resolve(dict(method="wgan-gp", dataset="mnist", dim=4, batch_size=8, iterations=1, threads=1,
                          data_root=str(tmp_path / "data")))
    Trainer(config, tmp_path / "run", progress=False).run()
    Trainer(config, tmp_path / "run", progress=False).run()
    assert "SUBSET" in RunDir(tmp_path / "run").read_status()["data"]


# --- class 8: what used to be a traceback ----------------------------------------------------------------

@pytest.mark.parametrize("text, named", [
    (b"method: wgan-gp\ndataset: 8gaussians\nseed: \xff\n", "is not UTF-8"),
    (b"method: wgan-gp\ndataset: 8gaussians\ndevice: tpu\n", "device: 'tpu' is not allowed"),
    (b"method: wgan-gp\ndataset: 8gaussians\ndevice: cuda:3\n", "device: 'cuda:3'"),
    (b"method: wgan-gp\ndataset: 8gaussians\nseed: 99999999999\n", "seed: expected a whole number from 0"),
    (b"method: wgan-gp\ndataset: 8gaussians\npenalty: {kind: wgan-gp, lambda: 1e400}\n", "lambda: inf is not finite"),
    (b"method: wgan-gp\ndataset: 8gaussians\npenalty: {kind: wgan-gp, every: 100000000000000000000}\n", "every"),
    (b"method: wgan-gp\ndataset: 8gaussians\npenalty: {kind: wgan-gp, lambda: 'anneal(1e300 T=1)'}\n",
     "lambda must be at most 1e+06"),
    (b"method: wgan-gp\ndataset: mnist\nbatch_size: 60000\n", "batch_size: 60000 is larger than"),
    (b"method: wgan-gp\ndataset: 8gaussians\niterations: [\n", "is not valid YAML at line"),
    (b"- just\n- a list\n", "must hold a mapping"),
    (b"method: ns-gan\ndataset: mnist\nbatch_size: 1\n", "batch_size: 1 with generator_batchnorm on"),
    (b"method: wgan-gp\ndataset: cifar10\ndim: 8192\n", "builds 33,624,997,892 parameters"),
    (b"method: wgan-gp\ndataset: 8gaussians\nbetas:\n  - &a [x, x, x, x, x, x, x, x, x]\n"
     + b"".join(f"  - &{b} [{', '.join([f'*{a}'] * 9)}]\n".encode() for a, b in zip("abcdefg", "bcdefgh")),
     "expands to more than 100,000 values"),
])
def test_former_tracebacks_are_one_line_errors(tmp_path, capsys, monkeypatch, text, named):
    from gpbench.data import images

    monkeypatch.setattr(images, "_try_torchvision_download", lambda name, root: False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_bytes(text)
    fails_cleanly(capsys, ["train", "bad.yaml", "--out", "run"], named)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, named", [
    (["train", "CONFIG", "--out", "OUT", "--set", "iterations=[1"], "--set 'iterations=[1'"),
    (["train", "CONFIG", "--out", "OUT", "--set", "=3"], "expected KEY=VALUE"),
    (["figure1", "run", "--set", "width={", "--out", "OUT", "--plots", "OUT"], "--set 'width={'"),
    (["train", "CONFIG", "--out", "FILE"], "is a file, not a run directory"),
    (["eval", "FILE"], "is not a gpbench run"),
    (["eval", "OUT"], "is not a gpbench run"),
    (["rehearsal-data", "--data-root", "OUT", "--inception", "OUT/w.pth", "--seed", "-1"], "--seed: expected"),
])
def test_bad_command_lines_are_one_line_errors(tmp_path, capsys, argv, named):
    (tmp_path / "file").write_text("not a run")
    replace = {"CONFIG": run_config(tmp_path), "OUT": str(tmp_path / "out"), "FILE": str(tmp_path / "file")}
    fails_cleanly(capsys, [replace.get(word, word) for word in argv], named, verb=argv[0])
    assert not (tmp_path / "out").exists()


def test_a_config_that_is_a_fifo_is_refused_without_hanging(tmp_path):
    os.mkfifo(tmp_path / "fifo.yaml")
    result = subprocess.run([sys.executable, "-m", "gpbench.cli", "train", str(tmp_path / "fifo.yaml"), "--out",
                             str(tmp_path / "run")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is not a regular file" in result.stderr


def test_a_deflate_error_in_an_idx_file_is_named(tmp_path):
    from gpbench.data import images
    from gpbench.errors import DataError

    folder = tmp_path / "mnist"
    folder.mkdir()
    good = gzip.compress(bytes([0, 0, 8, 1]) + (4).to_bytes(4, "big") + bytes(4))
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (folder / f"{stem}.gz").write_bytes(good[:12] + b"\xff" * 8 + good[20:])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz cannot be read"):
        images.load_idx_dataset("mnist", tmp_path, "train", download=False)


def test_the_generator_batch_may_be_smaller_than_the_batch_with_a_penalty_on_both_losses(tmp_path):
    config = resolve(dict(method="wgan-gp", dataset="8gaussians", dim=8, batch_size=32, generator_batch_size=8,
                          iterations=3, threads=1, data_root=str(tmp_path / "data"),
                          penalty={"kind": "wgan-gp", "lambda": 0.1, "loss": "both"}))
    assert Trainer(config, tmp_path / "run", progress=False).run() == "completed"


@pytest.mark.slow
def test_toy_eval_with_many_samples_bounds_the_exact_emd(tmp_path):
    run = train(tmp_path, tmp_path / "run")
    result = main(["eval", str(run.path), "--samples", "6000", "--no-curves"])
    assert result == 0
    protocol = run.read_eval()["protocol"]
    assert "subset of 2,500 of the 6,000 samples" in protocol["emd"]


# --- class 9: YAML 1.1's '1e-4' ----------------------------------------------------------------------------

def test_scientific_notation_without_a_dot_is_a_number(tmp_path):
    config = yaml.safe_load(Path(run_config(tmp_path, "method: wgan-gp\ndataset: 8gaussians\nlr: 1e-4\n")).read_text())
    assert config["lr"] == "1e-4"                            # what plain PyYAML does
    out = tmp_path / "run"
    assert main(["train", run_config(tmp_path, "method: wgan-gp\ndataset: 8gaussians\nlr: 1e-4\n"), "--out", str(out),
                 *SHORT]) == 0
    assert RunDir(out).read_config()["lr"] == 1e-4


# --- full and read-only disks (a small tmpfs; needs root) -------------------------------------------------

@contextlib.contextmanager
def small_tmpfs(path: Path, size: str):
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_fails_in_one_line_leaves_no_tmp_files_and_resumes_bitwise(tmp_path, capsys, interrupt_at):
    reference = train(tmp_path, tmp_path / "reference")
    with small_tmpfs(tmp_path / "disk", "8m") as disk:
        filler = disk / "filler"
        out = disk / "run"
        interrupted(tmp_path, out, 7, interrupt_at)              # a checkpoint exists: something to lose
        capsys.readouterr()
        free = shutil.disk_usage(disk).free
        filler.write_bytes(b"\0" * max(free - 300_000, 0))      # less than a checkpoint (900 KB) left
        assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 2
        error = one_line_error(capsys)
        assert "No space left on device" in error and "resumes" in error and str(out) in error
        assert not [p for p in out.rglob("*.tmp")]
        assert RunDir(out).load_checkpoint()["iteration"] >= 5   # the last checkpoint is intact
        filler.unlink()
        assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 0
        assert_same_weights(final_generator(reference), final_generator(RunDir(out)))


@pytest.mark.parametrize("message", [
    "[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file data/3: file write failed",
    "[enforce fail at inline_container.cc:672] . unexpected pos 4416 vs 4310"])
def test_torch_saves_runtime_error_on_a_full_disk_is_the_same_one_line(tmp_path, capsys, monkeypatch, message):
    def full(payload, path):                  # what torch.save raises when the disk fills mid-write
        Path(path).write_bytes(b"PK")
        raise RuntimeError(message)

    monkeypatch.setattr(torch, "save", full)
    out = tmp_path / "run"
    assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 2
    error = one_line_error(capsys)
    assert f"{out}/snapshots/generator_000005.pt: writing failed (" in error and "is the disk full?" in error
    assert "no checkpoint was written yet: the same command starts the run again" in error   # the snapshot came first
    assert not list(out.rglob("*.tmp"))


def test_a_read_only_disk_fails_in_one_line_and_resumes_once_writable(tmp_path, capsys, interrupt_at):
    reference = train(tmp_path, tmp_path / "reference")
    with small_tmpfs(tmp_path / "disk", "8m") as disk:
        out = disk / "run"
        interrupted(tmp_path, out, 12, interrupt_at)
        capsys.readouterr()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 2
        assert "Read-only file system" in one_line_error(capsys)
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 0
        assert_same_weights(final_generator(reference), final_generator(RunDir(out)))
        assert json.loads((out / "status.json").read_text())["status"] == "completed"


def test_a_table_rewritten_on_a_full_disk_names_the_file_and_keeps_the_old_one_whole(tmp_path, capsys):
    run = train(tmp_path, tmp_path / "run")
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        out = disk / "tables" / "replication"
        assert main(["table", "replication", str(run.path), "--out", str(out)]) == 0
        before = {path.name: path.read_bytes() for path in out.parent.iterdir()}
        assert set(before) == {"replication.md", "replication.csv", "replication.tex", "replication.html",
                               "replication_runs.csv"}
        capsys.readouterr()
        filler = disk / "filler"
        with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as handle:   # every free byte taken
            while True:
                handle.write(b"\0" * 4096)
        assert main(["table", "replication", str(run.path), "--out", str(out)]) == 2
        error = one_line_error(capsys, "table")
        assert "No space left on device" in error and f"{out}.md" in error and ".tmp" not in error
        assert {path.name: path.read_bytes() for path in out.parent.iterdir()} == before     # whole, no .tmp left


def test_a_disk_error_before_any_checkpoint_does_not_promise_a_resume(tmp_path, capsys):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        assert main(["train", run_config(tmp_path), "--out", str(disk / "run"), *SHORT]) == 2
        error = one_line_error(capsys)
        assert "Read-only file system" in error and "no checkpoint was written yet" in error
        assert "resumes from its last checkpoint" not in error


def test_a_file_where_the_tensorboard_folder_goes_fails_the_run_and_says_so_in_its_status(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "tensorboard").write_text("in the way")
    assert main(["train", run_config(tmp_path), "--out", str(out), *SHORT]) == 2
    error = one_line_error(capsys)
    assert "tensorboard" in error
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and "tensorboard" in status["message"]


def test_damaged_files_the_report_reads_are_named_in_one_line(tmp_path, capsys, caplog):
    (tmp_path / "figure1.json").write_text("not json {")
    assert main(["claims", "--figure1", str(tmp_path / "figure1.json"), "--out", str(tmp_path / "claims")]) == 2
    assert f"{tmp_path}/figure1.json is not readable JSON (JSONDecodeError); expected --figure1: the figure1.json" in \
        one_line_error(capsys, "claims")
    run = train(tmp_path, tmp_path / "run")
    (run.path / "diagnosis.json").write_text('{"verdict": "ok", "che')          # cut mid-write by an old version
    assert main(["table", "health", str(run.path), "--out", str(tmp_path / "health")]) == 2
    assert f"{run.path}/diagnosis.json is damaged; run `gpbench diagnose {run.path}` again" in \
        one_line_error(capsys, "table")
    snapshots = run.path / "snapshots"
    (snapshots / "generator_000006 (copy).pt").write_bytes((snapshots / "generator_000005.pt").read_bytes())
    with caplog.at_level("WARNING"):
        assert [iteration for iteration, _ in run.snapshots()] == [5, 10, 15, 20]
    assert "generator_000006 (copy).pt is not a snapshot gpbench wrote" in caplog.text


def test_eval_of_a_checkpoint_another_config_wrote_is_one_line(tmp_path, capsys):
    run = train(tmp_path, tmp_path / "run")
    config = yaml.safe_load((run.path / "config.yaml").read_text())
    (run.path / "config.yaml").write_text(yaml.safe_dump({**config, "dim": 16}))   # the checkpoint holds DIM 8
    assert main(["eval", str(run.path), "--samples", "100"]) == 2
    error = one_line_error(capsys, "eval")
    assert "holds a generator of another shape than the run's config.yaml builds (RuntimeError" in error
    assert "train again into a fresh --out" in error


def test_a_variant_name_too_long_for_a_file_name_is_refused_when_the_suite_is_planned():
    from gpbench.suite.pipeline import plan

    name = "v" + "x" * 234
    suite = {"suite": "long", "seeds": [0], "flex": {"datasets": ["8gaussians"], "variants": {name: {"kind": "r1"}}}}
    with pytest.raises(ConfigError, match=r"flex.variants: vxxx.*\.\.\. is 235 characters; a name becomes part of "
                                          "file names, keep it to 100"):
        plan(suite)


def test_a_failing_background_thread_says_so_in_one_line(capsys):
    import threading

    from gpbench.cli import thread_errors_in_one_line

    def write_events():
        raise OSError(28, "No space left on device")

    with thread_errors_in_one_line("train"):
        worker = threading.Thread(target=write_events, name="EventFileWriter")
        worker.start()
        worker.join()
    error = capsys.readouterr().err
    assert error.strip() == ("gpbench train: warning: background thread EventFileWriter failed: OSError: [Errno 28] "
                             "No space left on device")


def test_a_path_that_is_not_utf8_is_refused_in_one_line_before_anything_is_written(tmp_path, capsys):
    """Bytes that are not UTF-8 (carried by Python as surrogates) once failed in TensorBoard's writer after the run
    directory was made; now the option is named and nothing is written."""
    config = tmp_path / "run.yaml"
    config.write_text("method: wgan-gp\ndataset: 8gaussians\niterations: 2\n")
    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff")
    assert main(["train", str(config), "--out", out]) == 2
    error = capsys.readouterr().err
    assert error.startswith("gpbench train: error: --out: ") and "bad\\xff is not valid UTF-8" in error
    assert error.count("\n") == 1 and sorted(path.name for path in tmp_path.iterdir()) == ["run.yaml"]


def test_a_nested_verb_s_option_is_named_as_typed_when_its_path_is_not_utf8(tmp_path, capsys):
    out = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff")
    assert main(["figure1", "run", "--out", out, "--plots", str(tmp_path / "plots")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("gpbench figure1: error: --out: ") and "bad\\xff is not valid UTF-8" in error
    assert list(tmp_path.iterdir()) == []
