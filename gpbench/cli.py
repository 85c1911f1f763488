"""The ``gpbench`` command: argument parsing and friendly errors, one verb per pipeline step."""

from __future__ import annotations

import argparse
import sys

from gpbench.errors import ConfigError, DataError


def _penalties(args: argparse.Namespace) -> int:
    from gpbench.penalties import PENALTY_KINDS

    rows = [("kind", "evaluated at", "value", "default lambda", "added to")]
    rows += [(kind, at, value, f"{default:g}", loss) for kind, (at, value, default, loss) in PENALTY_KINDS.items()]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    print("\nPer-sample norms span all non-batch dims. r1/r2 use the paper's gamma/2 "
          "(GAN_stability's reg_param = lambda/2).")
    return 0


def _train(args: argparse.Namespace) -> int:
    from gpbench.train import train_from_file

    return train_from_file(args.config, args.out, overrides=args.set)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpbench", description=__doc__.splitlines()[0].strip())
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    penalties = verbs.add_parser("penalties", help="print the penalty kinds, their formulas and defaults")
    penalties.set_defaults(run=_penalties)

    train = verbs.add_parser("train", help="train one run from a YAML run config (resumes from DIR/checkpoint.pt)")
    train.add_argument("config", help="run config YAML: method, dataset and what differs from the preset")
    train.add_argument("--out", required=True, help="run directory (created; resumed when it holds a checkpoint)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override one config key (YAML value), e.g. --set iterations=200")
    train.set_defaults(run=_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, DataError) as error:
        print(f"gpbench {args.verb}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gpbench {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
