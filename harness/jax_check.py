"""Re-lower every JAX record of a corpus from its stored program and compare with its stored HLO.

    python -m harness.jax_check DIR [--limit N]

For each record with an expressible ``jax`` section, the program (``jax.source``) is lowered again for the stored
argument shapes (``jax.arguments``) by :func:`harness.jax_backend.oracle.relower`, independently of the run that wrote
it, and the forward and backward StableHLO must equal the stored texts (the optimized HLO is compared too when the
JAX release is the record's). Prints the counts; exits 1 when a text differs, 2 on a usage error.
"""

from __future__ import annotations

import sys

from .cli import OneLineParser
from .store.corpus import CorpusError, read_records


def main(argv=None) -> int:
    p = OneLineParser(prog="python -m harness.jax_check", name="jax_check",
                      description="Re-lower the JAX records of a corpus and compare with their stored HLO.")
    p.add_argument("corpus", help="corpus directory")
    p.add_argument("--limit", type=int, default=0, help="check at most N records (default: all)")
    args = p.parse_args(argv)
    try:
        import jax
    except ImportError:
        p.error('needs JAX: pip install -e ".[jax]"')
    from .jax_backend.oracle import relower

    same = differ = without = 0
    try:
        for record in read_records(args.corpus):
            section = record.get("jax")
            if not section or not section.get("expressible"):
                without += 1
                continue
            texts = relower(section)
            fields = [("forward", "forward_hlo"), ("backward", "backward_hlo")]
            if section.get("jax_version") == jax.__version__:
                fields.append(("optimized", "optimized_hlo"))
            bad = [f for f, stored in fields if (texts[f] or "") != section[stored]]
            if bad:
                differ += 1
                print(f"jax_check: {record['id']}: {', '.join(bad)} HLO differs", file=sys.stderr)
            else:
                same += 1
            if args.limit and same + differ >= args.limit:
                break
    except CorpusError as error:
        print(f"jax_check: {error}", file=sys.stderr)
        return 2
    print(f"jax_check: {same} JAX records re-lowered to the same HLO, {differ} differ, {without} without a JAX program")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
