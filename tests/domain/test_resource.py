"""Resource and Profile: typed settings and the rules per resource type."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fractal_core.domain import Profile
from fractal_core.domain import Resource
from fractal_core.domain.resource import JobRunnerConfigLocal
from fractal_core.domain.resource import JobRunnerConfigSLURM
from fractal_core.domain.resource import TasksPixiSettings
from fractal_core.domain.resource import TasksPythonSettings

BATCHING = {
    "target_num_jobs": 2,
    "max_num_jobs": 4,
    "target_cpus_per_job": 8,
    "max_cpus_per_job": 16,
    "target_mem_per_job": "32G",
    "max_mem_per_job": 64000,
}
SLURM_CONFIG = {
    "default_slurm_config": {
        "partition": "main",
        "mem": "4G",
        "extra_lines": ["module load x"],
    },
    "gpu_slurm_config": {"partition": "gpu", "gpus": "1"},
    "batching_config": BATCHING,
    "user_local_exports": {"CELLPOSE_LOCAL_MODELS_PATH": "models"},
}
PYTHON = {"default_version": "3.11", "versions": {"3.11": "/usr/bin/python3.11"}}


def local(**extra: Any) -> dict[str, Any]:
    return {
        "type": "local",
        "name": "local",
        "jobs_local_dir": "/jobs",
        "tasks_local_dir": "/tasks",
        "jobs_runner_config": {},
        "tasks_python_config": PYTHON,
    } | extra


def slurm(kind: str, **extra: Any) -> dict[str, Any]:
    base = local(
        type=kind,
        name=kind,
        jobs_runner_config=SLURM_CONFIG,
        jobs_slurm_python_worker="/venv/bin/python",
    )
    if kind == "slurm_ssh":
        base["host"] = "login.cluster"
    return base | extra


def test_local_resource() -> None:
    resource = Resource.model_validate(
        local(jobs_runner_config={"parallel_tasks_per_job": 3})
    )
    assert isinstance(resource.jobs_runner_config, JobRunnerConfigLocal)
    assert resource.jobs_runner_config.parallel_tasks_per_job == 3
    assert resource.tasks_python_config.pip_cache_args() == ["--no-cache-dir"]
    for bad in (
        {"jobs_runner_config": {"unknown": 1}},
        {"jobs_slurm_python_worker": "/py"},
        {"host": "x"},
        {"jobs_local_dir": "relative"},
        {"type": "kubernetes"},
        {
            "tasks_pixi_config": {
                "versions": {"0.4": "/p/0.4"},
                "default_version": "0.5",
            }
        },
    ):
        with pytest.raises(ValidationError):
            Resource.model_validate(local(**bad))
    assert (
        Resource.model_validate(local(tasks_pixi_config={})).tasks_pixi_config is None
    )


@pytest.mark.parametrize("kind", ["slurm_sudo", "slurm_ssh"])
def test_slurm_resources(kind: str) -> None:
    resource = Resource.model_validate(slurm(kind))
    config = resource.jobs_runner_config
    assert isinstance(config, JobRunnerConfigSLURM)
    assert config.default_slurm_config.mem == "4G"
    assert config.batching_config.max_mem_per_job == 64000
    assert Resource.model_validate_json(resource.model_dump_json()) == resource
    with pytest.raises(ValidationError, match="jobs_slurm_python_worker"):
        Resource.model_validate(slurm(kind, jobs_slurm_python_worker=None))
    with pytest.raises(ValidationError):
        Resource.model_validate(slurm(kind, jobs_runner_config={}))
    newer = dict(
        SLURM_CONFIG,
        default_slurm_config={
            "partition": "p",
            "shebang_line": "#!/bin/bash",
            "use_mem_per_cpu": True,
            "nodes": 1,
        },
    )
    assert (
        Resource.model_validate(
            slurm(kind, jobs_runner_config=newer)
        ).jobs_runner_config.default_slurm_config.nodes
        == 1
    )


def test_ssh_needs_host_and_pixi_slurm_config() -> None:
    with pytest.raises(ValidationError, match="host"):
        Resource.model_validate(slurm("slurm_ssh", host=None))
    with pytest.raises(ValidationError, match="host"):
        Resource.model_validate(slurm("slurm_sudo", host="h"))
    pixi = {"versions": {"0.47.0": "/pixi/0.47.0"}, "default_version": "0.47.0"}
    with pytest.raises(ValidationError, match="SLURM_CONFIG"):
        Resource.model_validate(slurm("slurm_ssh", tasks_pixi_config=pixi))
    pixi_slurm = pixi | {
        "SLURM_CONFIG": {"partition": "p", "cpus": 2, "mem": "4G", "time": "10"}
    }
    ok = Resource.model_validate(slurm("slurm_ssh", tasks_pixi_config=pixi_slurm))
    assert ok.tasks_pixi_config.SLURM_CONFIG.cpus == 2


def test_settings_models() -> None:
    with pytest.raises(ValidationError, match="not available"):
        TasksPythonSettings(default_version="3.12", versions={"3.11": "/py"})
    with pytest.raises(ValidationError):
        TasksPythonSettings(default_version="2.7", versions={"2.7": "/py"})
    cached = TasksPythonSettings(**PYTHON, pip_cache_dir="/cache")
    assert cached.pip_cache_args() == ["--cache-dir", "/cache"]
    with pytest.raises(ValidationError, match="named as its version"):
        TasksPixiSettings(
            versions={"0.4": "/p/0.4", "0.5": "/p/other"}, default_version="0.4"
        )
    with pytest.raises(ValidationError, match="inside"):
        TasksPixiSettings(
            versions={"0.4": "/p/0.4", "0.5": "/q/0.5"}, default_version="0.4"
        )


def test_profiles() -> None:
    assert Profile(name="l", resource_type="local").username is None
    Profile(name="s", resource_type="slurm_sudo", username="alice")
    ssh = Profile(
        name="x",
        resource_type="slurm_ssh",
        username="alice",
        ssh_key_path="/k/id",
        jobs_remote_dir="/remote/jobs",
        tasks_remote_dir="/remote/tasks",
        resource_id=2,
    )
    for bad in (
        {"name": "l", "resource_type": "local", "username": "alice"},
        {"name": "s", "resource_type": "slurm_sudo"},
        {
            "name": "s",
            "resource_type": "slurm_sudo",
            "username": "a",
            "ssh_key_path": "/k",
        },
        {
            "name": "x",
            "resource_type": "slurm_ssh",
            "username": "a",
            "ssh_key_path": "/k",
        },
    ):
        with pytest.raises(ValidationError):
            Profile.model_validate(bad)
    resource = Resource.model_validate(slurm("slurm_ssh", id=2))
    ssh.check_matches(resource)
    with pytest.raises(ValueError, match="does not match"):
        ssh.check_matches(Resource.model_validate(slurm("slurm_ssh", id=3)))
    with pytest.raises(ValueError, match="does not match"):
        ssh.check_matches(Resource.model_validate(local()))
