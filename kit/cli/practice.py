"""``kit practice``: print seeded practice problems, and with ``-c`` their solutions.

An instructor puts the output on an exam sheet; the seed on each problem regenerates it (with
its solution) on any machine.  The problems themselves come from ``kit.teaching.practice``.
"""

from __future__ import annotations

import argparse
import random

from kit.core.errors import InvalidArgument
from kit.core.presets import PRESETS
from kit.teaching.practice import KINDS, LEVELS, Problem, practice_set


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", nargs="?", choices=KINDS, metavar="KIND",
                        help=f"one of {', '.join(KINDS)} (default: each in turn)")
    parser.add_argument("--seed", type=int,
                        help="the first problem's seed; problem i uses seed + i (default: one "
                             "drawn at random and printed, so the same problems can come back)")
    parser.add_argument("--count", type=int, default=1, help="how many problems (default: 1)")
    parser.add_argument("--level", type=int, default=1, choices=LEVELS,
                        help="difficulty 1-3 (default: 1)")
    parser.add_argument("--preset", choices=list(PRESETS), metavar="VERSION",
                        help=f"the kernel version to follow, one of {', '.join(PRESETS)} "
                             "(default: 6.8, or one drawn from the seed at level 3)")
    parser.add_argument("-c", "--solutions", action="store_true",
                        help="also print each problem's answer and step-by-step solution")


def format_problem(number: int, problem: Problem, solutions: bool) -> str:
    """One problem as printed: heading, question, what to answer, and maybe the solution."""
    heading = (f"Problem {number}: {problem.title} ({problem.kind}, level {problem.level}, "
               f"seed {problem.seed}, Linux {problem.preset})")
    parts = [heading, "=" * len(heading), problem.text, "",
             "Answer:", *(f"  {field.label}: ____" for field in problem.fields)]
    if solutions:
        parts += ["", "Solution:", problem.solution, "", "Answers:",
                  *(f"  {line}" for line in problem.answer_text().splitlines())]
    parts += ["", f"(again: {problem.command}{' -c' if not solutions else ''})"]
    return "\n".join(parts)


#: Seeds drawn when none is given stay below this: short enough to note down and type again.
DRAWN_SEEDS = 10_000


def run(args: argparse.Namespace) -> int:
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(DRAWN_SEEDS)
        print(f"No --seed given: drew seed {args.seed} (--seed {args.seed} gives these "
              "problems again).\n")
    if args.seed < 0:
        raise InvalidArgument(f"--seed must be >= 0, got {args.seed}")
    if not 1 <= args.count <= 100:
        raise InvalidArgument(f"--count must be between 1 and 100, got {args.count}")
    problems = practice_set(args.seed, args.count, args.kind, args.level, args.preset)
    print("\n\n".join(format_problem(i, p, args.solutions) for i, p in enumerate(problems, 1)))
    return 0
