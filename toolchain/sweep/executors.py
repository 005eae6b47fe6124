"""Where trials run: in this process (--workers 1), a local process pool (--workers N), or a Dask
distributed cluster (--executor dask://HOST:PORT, through distributed.Client). All three take the same
TrialSpecs and yield Outcomes as they finish; the study (storage, sampler) stays in the sweep process,
so the trials do not depend on where they ran. Dask workers need the run folder on a shared file system
(each trial writes its checkpoint and models there)."""

from __future__ import annotations

from typing import Iterator, Optional

from toolchain.errors import UserError
from toolchain.sweep.trial import Outcome, Status, TrialSpec, run_trial

def _crashed(spec: TrialSpec, err: BaseException) -> Outcome:
    """A trial whose worker died (killed, out of memory): failed, the sweep goes on."""
    return Outcome(number=spec.number, status=Status.FAILED, reason=f"worker lost: {type(err).__name__}: {err}")

class InlineExecutor:
    name = "inline"

    def run(self, specs: list[TrialSpec]) -> Iterator[Outcome]:
        for spec in specs:
            yield run_trial(spec)

    def close(self) -> None:
        pass

class PoolExecutor:
    """concurrent.futures process pool; spawned (not forked) workers, since the sweep process has
    torch and its thread pools loaded."""

    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.name = f"local pool ({workers} workers)"
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def run(self, specs: list[TrialSpec]) -> Iterator[Outcome]:
        from concurrent.futures import as_completed

        futures = {self.pool.submit(run_trial, spec): spec for spec in specs}
        for future in as_completed(futures):
            err = future.exception()
            yield _crashed(futures[future], err) if err else future.result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

class DaskExecutor:
    def __init__(self, address: str, timeout: float = 30):
        from distributed import Client

        self.name = f"dask {address}"
        try:
            self.client = Client(address, timeout=timeout)
        except OSError as err:
            raise UserError(f"--executor dask://{address}: cannot reach the scheduler ({err})") from None

    def run(self, specs: list[TrialSpec]) -> Iterator[Outcome]:
        from distributed import as_completed

        # pure=False: a trial is a job, not a cacheable value; the key names the trial in the dashboard
        futures = {self.client.submit(run_trial, spec, pure=False, key=f"hil-trial-{spec.number}"): spec
                   for spec in specs}
        for future in as_completed(list(futures)):
            err = future.exception()
            yield _crashed(futures[future], err) if err else future.result()

    def close(self) -> None:
        self.client.close()

def make_executor(executor: Optional[str], workers: int) -> "InlineExecutor | PoolExecutor | DaskExecutor":
    if workers < 1:
        raise UserError(f"--workers must be >= 1, got {workers}")
    if executor is None or executor == "local":
        return InlineExecutor() if workers == 1 else PoolExecutor(workers)
    if executor.startswith("dask://"):
        address = executor[len("dask://"):]
        if not address:
            raise UserError("--executor dask://HOST:PORT needs the scheduler's address")
        return DaskExecutor(f"tcp://{address}")
    raise UserError(f"--executor must be local or dask://HOST:PORT, got {executor!r}")
