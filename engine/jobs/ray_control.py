"""The control actor of the jobs one server sends to a Ray cluster (``engine.jobs.ray_backend``, docs/ray.md): per
job, the events its remote task sent that the server has not taken yet, and whether Stop was pressed.

One actor serves all of a server's jobs, made when the server joins the cluster and placed on the server's node: an
actor is a process, and one per job would make every job wait for a worker process to start. Standard library only,
so that its process starts without importing torch. It dies with the server that made it (Ray's owner rule)."""

from __future__ import annotations


class Control:
    """Each call holds the actor for a few list operations: a server's jobs exchange with it many times a second."""

    def __init__(self) -> None:
        self._events: dict[str, list[bytes]] = {}
        self._stops: set[str] = set()

    def ready(self) -> bool:
        return True

    def exchange(self, job_id: str, events: list[bytes]) -> bool:
        """The task's side: keep ``events`` for the server; whether the job is asked to stop."""
        self._events.setdefault(job_id, []).extend(events)
        return job_id in self._stops

    def take(self, job_id: str) -> list[bytes]:
        """The server's side: the job's events since the last call."""
        return self._events.pop(job_id, [])

    def request_stop(self, job_id: str) -> None:
        self._stops.add(job_id)

    def forget(self, job_id: str) -> None:
        """The job is done: nothing of it is kept."""
        self._events.pop(job_id, None)
        self._stops.discard(job_id)
