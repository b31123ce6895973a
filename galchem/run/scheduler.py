"""Where the per-partition work runs: Dask, in this process, on this machine's cores, or on a cluster.

``--scheduler`` (and :func:`open_scheduler`) takes

* ``single`` (the default): Dask's synchronous scheduler, in this process,
  one partition after the other (the kinematics still use every core);
* ``local``: a ``dask.distributed.LocalCluster`` of :data:`LOCAL_WORKERS`
  worker processes on this machine;
* an address (``tcp://host:8786``, or ``host:port``): an existing Dask
  cluster, whose workers must see the same file system (the catalogue, the
  cache folder) and run the same galchem.

The choice never changes a result: each star's random numbers are keyed by
its id, sums are accumulated in double-double and rounded once, and gathered
stars are sorted by id, so the same seed gives the same tables on any
scheduler, with any number of workers and any partitioning.  Work is
expressed with ``dask.delayed``: one task per partition; a reduction is a
chain of combining tasks in this process (a running total and one new
result held at a time) and a binary tree of them on a cluster.  A scheduler
opened with ``progress=True`` shows one bar per map over the partitions.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from galchem.errors import GalchemError

__all__ = ["LOCAL_WORKERS", "SCHEDULERS", "Scheduler", "check_scheduler", "open_scheduler", "planned_workers"]

LOCAL_WORKERS = 2
"""Worker processes of ``--scheduler local`` (one per core of the study's machine)."""

SCHEDULERS = "single, local or the address of a Dask scheduler (tcp://host:port)"

CONNECT_SECONDS = 5
"""How long to try reaching a cluster's scheduler before giving up."""

_ADDRESS = re.compile(r"^(tcp|tls|inproc|ws|wss|ucx)://\S+$|^[A-Za-z0-9_.\-]+:\d{1,5}$")

T = TypeVar("T")


def check_scheduler(spec: str) -> str:
    """``spec`` if it names a scheduler; else one line saying what is allowed."""
    if spec in ("single", "local") or _ADDRESS.match(spec or ""):
        return spec
    raise GalchemError(f"unknown --scheduler {spec!r}: use {SCHEDULERS}")


class Scheduler:
    """An open scheduler: maps a function over partitions and reduces the results, on Dask."""

    def __init__(self, spec: str, client: Any = None, progress: bool = False) -> None:
        self.spec = spec
        self.progress = progress
        self._client = client

    @property
    def workers(self) -> int:
        """Processes working in parallel (1 for ``single``)."""
        if self._client is None:
            return 1
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def _bar(self, total: int, label: str) -> Any:
        from tqdm import tqdm

        return tqdm(total=total, unit="partition", desc=label, disable=not self.progress or total < 2, delay=1.0)

    @staticmethod
    def _one(task: Any) -> Any:
        """One task's result, computed in this process."""
        import dask

        return dask.compute(task, scheduler="synchronous")[0]

    def _gather(self, tasks: list, label: str) -> list:
        """The results of ``tasks`` in order, the bar moving as each finishes."""
        with self._bar(len(tasks), label) as bar:
            if self._client is None:
                results = []
                for task in tasks:
                    results.append(self._one(task))
                    bar.update()
                return results
            from dask.distributed import as_completed

            futures = self._client.compute(tasks)
            for _ in as_completed(futures):
                bar.update()
            return self._client.gather(futures)

    def map(self, function: Callable[..., T], items: Sequence, *args: Any, label: str = "partitions") -> list[T]:
        """``[function(item, *args) for item in items]``, one task per item, results in order."""
        from dask import delayed

        task = delayed(function, pure=False)
        return self._gather([task(item, *args) for item in items], label)

    def map_reduce(self, function: Callable[..., T], items: Sequence, combine: Callable[[T, T], T], *args: Any,
                   label: str = "partitions") -> T:
        """``function`` on every item, then ``combine`` in item order.

        In this process (``single``) the results are folded into one running
        total as they come, so only the total and one new result are ever
        held; on a cluster they are combined in a fixed binary tree, so
        workers combine in parallel.  ``combine`` must give the same result
        either way (sums in double-double, samples chosen by key, lists kept
        in order).
        """
        from dask import delayed

        if not items:
            raise ValueError("nothing to reduce")
        task = delayed(function, pure=False)
        if self._client is None:
            with self._bar(len(items), label) as bar:
                total = self._one(task(items[0], *args))
                bar.update()
                for item in items[1:]:
                    total = combine(total, self._one(task(item, *args)))
                    bar.update()
            return total
        from dask.distributed import as_completed

        leaves = self._client.compute([task(item, *args) for item in items])
        level = leaves
        while len(level) > 1:  # submitted at once: each combine runs as soon as its two inputs are ready
            level = [self._client.submit(combine, level[i], level[i + 1], pure=False) if i + 1 < len(level)
                     else level[i] for i in range(0, len(level), 2)]
        with self._bar(len(items), label) as bar:
            for _ in as_completed(leaves):
                bar.update()
        return level[0].result()


def planned_workers(spec: str | Scheduler) -> int:
    """Processes that will work on partitions at once on this machine (a remote cluster's count as one here)."""
    if isinstance(spec, Scheduler):
        return spec.workers if spec.spec == "local" else 1
    return LOCAL_WORKERS if spec == "local" else 1


def _probe(address: str) -> None:
    """Fail at once (OSError) when nothing listens at a TCP address, rather than retrying until the timeout."""
    import socket
    from urllib.parse import urlsplit

    if not address.startswith(("tcp://", "tls://")) and "://" in address:
        return
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.hostname and parts.port:
        with socket.create_connection((parts.hostname, parts.port), timeout=CONNECT_SECONDS):
            pass


@contextmanager
def open_scheduler(spec: str | Scheduler = "single", progress: bool = False) -> Iterator[Scheduler]:
    """A :class:`Scheduler` for ``spec`` (module docstring), closed (and its local cluster stopped) on exit.

    ``progress``: show a bar per map over partitions (an open scheduler keeps its own choice).

    An address that answers no Dask scheduler within :data:`CONNECT_SECONDS`
    is one :class:`GalchemError` line.
    """
    if isinstance(spec, Scheduler):
        yield spec
        return
    check_scheduler(spec)
    if spec == "single":
        yield Scheduler(spec, progress=progress)
        return
    from dask.distributed import Client, LocalCluster

    if spec == "local":
        cluster = LocalCluster(n_workers=LOCAL_WORKERS, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        try:
            yield Scheduler(spec, client, progress)
        finally:
            client.close()
            cluster.close()
        return
    try:
        _probe(spec)
        client = Client(spec, timeout=f"{CONNECT_SECONDS}s")
    except (OSError, TimeoutError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise GalchemError(f"--scheduler {spec}: no Dask scheduler answers there ({reason})") from None
    try:
        yield Scheduler(spec, client, progress)
    finally:
        client.close()
