"""Where a run's workers run: the local worker pool (:class:`harness.pool.WorkerPool`) or Ray actors
(:class:`harness.ray_pool.RayPool`), chosen by ``--executor``; collect and fuzz drive both the same way."""

from __future__ import annotations

from .pool import WorkerPool

EXECUTORS = ("local", "ray")


def add_executor_arguments(p) -> None:
    """``--executor`` and ``--ray-address``, as collect and fuzz spell them."""
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where the workers run: local (default: worker processes on this machine) or ray (Ray "
                   "actors: a local Ray instance, or the cluster --ray-address names; needs the [ray] extra)")
    p.add_argument("--ray-address", metavar="ADDR", default=None,
                   help="with --executor ray: the Ray cluster to join (auto, or ray://host:10001); default: start "
                   "a local Ray instance with --workers CPUs")


def executor_error(args) -> str | None:
    """Why the executor arguments cannot run (a one-line message), or None."""
    if args.ray_address and args.executor != "ray":
        return "--ray-address needs --executor ray"
    if args.executor == "ray":
        from .ray_pool import EXTRA_HINT, ray_available

        if not ray_available():
            return EXTRA_HINT
    return None


def make_pool(args, serve, run, scratch: str, timeout_s: float):
    """The run's workers: ``args.workers`` local processes running ``serve(conn, scratch)``, or as many Ray actors
    running ``run(task, hook)`` (:class:`harness.ray_pool.RayPool`); both are driven the same way."""
    if args.executor == "ray":
        from .ray_pool import RayPool

        return RayPool(args.workers, run, scratch, timeout_s=timeout_s, address=args.ray_address)
    return WorkerPool(args.workers, serve, (scratch,), timeout_s=timeout_s)
