"""Synthetic traffic: generation and critic-scored loading, each against a baseline in the same run."""

from devkit.synth.benchmark import run

__all__ = ["run"]

if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
