"""Run the performance harness (same as ``mechclln bench``), e.g.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/run.py --sizes "2:1e2,1e3,1e4" --merge
"""
import argparse
import sys

from mechclln import bench

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_arguments(parser)
    sys.argv.insert(1, "bench")   # so the recorded command reads like the CLI's
    args = parser.parse_args(sys.argv[2:])
    sys.exit(bench.main(args))
