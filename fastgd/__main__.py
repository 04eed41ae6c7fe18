"""Command line: ``python -m fastgd demo|fit|predict|bench`` (or the ``fastgd`` script)."""

import argparse
import os
import sys


class _Parser(argparse.ArgumentParser):
    """Bad flags: one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def main(argv=None):
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0, 2 for bad input (one line on stderr says what), 130 after Ctrl-C.
    """
    parser = _Parser(prog="fastgd", description="Least-squares linear models by mini-batch "
                     "gradient descent.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = commands.add_parser("demo", help="rerun the lecture's examples and time the backends")
    demo.add_argument("--seed", type=int, default=None, help="seed of data and shuffling")
    demo.add_argument("--repeats", type=int, default=20, help="timed repetitions per backend")
    fit = commands.add_parser("fit", help="fit a model to a data file")
    predict = commands.add_parser("predict", help="predict with a saved model")
    bench = commands.add_parser("bench", help="time fastgd against its peers on the same data")
    bench.add_argument("--quick", action="store_true", help="small cases only")
    bench.add_argument("--repeats", type=int, default=3, help="timed runs of the fast methods")
    bench.add_argument("--accuracy", action="store_true",
                       help="the accuracy table (excess MSE over lstsq per problem family)")
    bench.add_argument("--scale", action="store_true",
                       help="out-of-core memory and Dask epoch time against the workers")
    bench.add_argument("--time-to-solution", action="store_true",
                       help="seconds to a default fit against lstsq and scikit-learn's SGD "
                            "(well and ill conditioned data)")
    bench.add_argument("--sparse", action="store_true",
                       help="sparse X: seconds per epoch against scikit-learn's SGD and a "
                            "default fit against scipy's lsqr")
    bench.add_argument("--losses", action="store_true",
                       help="seconds per epoch of each loss against squared error and "
                            "scikit-learn's SGD, and a quantile fit against QuantileRegressor")
    from ._commands import cli as _cli

    _cli.add_fit_arguments(fit)
    _cli.add_predict_arguments(predict)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from ._commands.demo import run_demo

            run_demo(seed=args.seed, repeats=args.repeats)
        elif args.command == "fit":
            return _cli.run_fit(args)
        elif args.command == "predict":
            return _cli.run_predict(args)
        elif args.command == "bench":
            from ._commands.bench import run_bench

            run_bench(quick=args.quick, repeats=args.repeats, accuracy_only=args.accuracy,
                      scale_only=args.scale, solution_only=args.time_to_solution,
                      sparse_only=args.sparse, losses_only=args.losses)
    except _cli.CommandError as exc:
        print(f"fastgd {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastgd {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


def console_main():
    """Run :func:`main`; a reader that closes the pipe early (``| head``) ends it quietly."""
    try:
        return main()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's exit-time flush must not fail again
        return 0


if __name__ == "__main__":
    sys.exit(console_main())
