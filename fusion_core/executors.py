"""How a worker trains one claimed job: here, in its own process, or as a task on a Ray cluster.

An executor is one function, `execute(job) -> final status`. The worker chooses it once, from
FUSION_LAB_EXECUTOR: unset or "local" trains in the worker process with `fusion_core.jobs.run_job`;
"ray" hands the job to `fusion_core.ray_executor.run_on_ray`, imported only then. Either way the
run's curves and final status end up in the worker's run store, and `job.stop_event` stops it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fusion_core.config import RunConfig
from fusion_core.store import RunStore

EXECUTOR_ENV = "FUSION_LAB_EXECUTOR"
EXECUTORS = ("local", "ray")


@dataclass
class Job:
    """A claimed run, as an executor receives it."""

    run_id: int
    config: RunConfig
    store: RunStore
    stop_event: threading.Event = field(default_factory=threading.Event)
    data_loader: Callable | None = None  # None: fusion_core.jobs.default_loader, looked up per job


Executor = Callable[[Job], str]


class ExecutorError(Exception):
    """FUSION_LAB_EXECUTOR names an executor that cannot be used here."""


def run_locally(job: Job) -> str:
    """Train in this process; the worker's heartbeat thread keeps running beside it."""
    from fusion_core import jobs

    return jobs.run_job(
        job.config,
        job.store,
        job.run_id,
        data_loader=job.data_loader or jobs.default_loader,
        stop_event=job.stop_event,
    )


def run_with_ray(job: Job) -> str:
    """Train as a Ray task; this process stays the one that writes the run store."""
    try:
        from fusion_core.ray_executor import run_on_ray
    except ImportError as exc:
        raise ExecutorError(
            f"{EXECUTOR_ENV}=ray needs Ray and fusion_core.ray_executor, which could not be imported "
            f"({exc}). Install Ray (pip install 'ray[default]') or unset {EXECUTOR_ENV}."
        ) from exc
    return run_on_ray(job.config, job.store, job.run_id, should_stop=job.stop_event.is_set)


def executor_name(environ: dict[str, str] | None = None) -> str:
    """'local' or 'ray', as FUSION_LAB_EXECUTOR says (default 'local'); ExecutorError for anything else."""
    name = ((environ if environ is not None else os.environ).get(EXECUTOR_ENV) or "local").strip().lower()
    if name not in EXECUTORS:
        allowed = ", ".join(repr(e) for e in EXECUTORS)
        raise ExecutorError(f"{EXECUTOR_ENV} must be one of {allowed}. Received: {EXECUTOR_ENV}={name!r}")
    return name


def executor_from_env(environ: dict[str, str] | None = None) -> Executor:
    """The executor FUSION_LAB_EXECUTOR asks for; ExecutorError for an unknown name."""
    return run_with_ray if executor_name(environ) == "ray" else run_locally
