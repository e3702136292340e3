"""The dask-jobqueue set-up docs/sweep.md shows makes the worker jobs the sweep needs."""

import pytest
from repo_paths import REPO

# docs/sweep.md's arguments (the scheduler kept on loopback here).
DOCUMENTED = dict(cores=1, processes=1, memory="16GB", walltime="04:00:00", nanny=False,
                  job_script_prologue=["cd /shared/grace_flow", "export OMP_NUM_THREADS=8"],
                  scheduler_options={"host": "127.0.0.1", "dashboard_address": None})


@pytest.mark.parametrize("kind, extra, resources, documented", [
    ("SLURMCluster", {"job_cpu": 8}, "#SBATCH --cpus-per-task=8",
     "SLURMCluster(cores=1, processes=1, job_cpu=8,"),
    ("PBSCluster", {"resource_spec": "select=1:ncpus=8:mem=16gb"},
     "#PBS -l select=1:ncpus=8:mem=16gb", "or PBSCluster (resource_spec= instead of job_cpu=)"),
])
def test_documented_jobs_start_one_single_threaded_worker_per_job(kind, extra, resources,
                                                                  documented):
    import dask_jobqueue

    with getattr(dask_jobqueue, kind)(**DOCUMENTED, **extra) as cluster:
        script = cluster.job_script()
    assert resources in script.splitlines()
    worker = script.strip().splitlines()[-1]
    assert "distributed.cli.dask_worker tcp://127.0.0.1:" in worker
    assert " --nthreads 1 " in worker and " --no-nanny" in worker
    assert script.index("export OMP_NUM_THREADS=8") < script.index(worker)
    assert documented in (REPO / "docs" / "sweep.md").read_text()


def test_example_job_scripts_start_dask_workers_on_the_scheduler_file():
    for name in ("sweep_workers.slurm", "sweep_workers.pbs"):
        text = (REPO / "docs" / "examples" / name).read_text()
        assert "exec .venv/bin/dask worker --scheduler-file artifacts/scheduler.json " \
               "--nthreads 1 --no-nanny" in text, name
