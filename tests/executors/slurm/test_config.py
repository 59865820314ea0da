"""SLURM configuration: resource models and the merge with a workflow task's meta."""

from __future__ import annotations

from typing import Any

import pytest

from fractal_core.domain.resource import JobRunnerConfigSLURM
from fractal_core.executors.slurm import SlurmConfig
from fractal_core.executors.slurm import SlurmConfigError
from fractal_core.executors.slurm import SlurmHeuristicsError
from fractal_core.executors.slurm import SlurmResourceConfig
from fractal_core.executors.slurm import merge_slurm_config
from fractal_core.executors.slurm import slurm_config_for

BATCHING = {
    "target_cpus_per_job": 10,
    "max_cpus_per_job": 12,
    "target_mem_per_job": 10,
    "max_mem_per_job": 12,
    "target_num_jobs": 5,
    "max_num_jobs": 10,
}
# the reference's tests/fixtures_computational_settings.py::SLURM_CONFIG
REFERENCE_SETTINGS = {
    "default_slurm_config": {"partition": "main", "cpus_per_task": 1, "mem": "100M"},
    "batching_config": {
        "target_cpus_per_job": 1,
        "max_cpus_per_job": 1,
        "target_mem_per_job": 200,
        "max_mem_per_job": 500,
        "target_num_jobs": 2,
        "max_num_jobs": 4,
    },
}


def _resource(**values: Any) -> SlurmResourceConfig:
    data: dict[str, Any] = {**REFERENCE_SETTINGS, **values}
    return SlurmResourceConfig.model_validate(data)


def test_reference_internal_merge() -> None:
    """Mirrors `test_slurm_config.py::test_get_slurm_config_internal`: meta beats
    the GPU options, which beat the defaults; job name without spaces; default
    account kept; time unset; extra lines merged without repetitions (in order
    here); user_local_exports copied."""
    default_lines = ["#SBATCH --option=value", "export VAR1=VALUE1"]
    resource = SlurmResourceConfig(
        default_slurm_config={
            "partition": "main",
            "mem": "1G",
            "account": "default-account",
            "extra_lines": default_lines,
        },
        gpu_slurm_config={
            "partition": "gpu-partition",
            "mem": "1G",
            "gres": "gpu-default-gres",
            "constraint": "gpu-default-constraint",
        },
        batching_config=BATCHING,
        user_local_exports={"SOME_CACHE_DIR": "SOME_CACHE_DIR"},
    )
    meta = dict(
        cpus_per_task=2,
        mem="1G",
        needs_gpu=True,
        gres="my-custom-gres-from-task",
        constraint="my-custom-constraint-from-wftask",
        extra_lines=["export VAR1=VALUE1", "export VAR2=VALUE2"],
    )
    config = merge_slurm_config(resource, meta, task_name="task name")
    assert config.cpus_per_task == 2
    assert config.mem_per_task_MB == 1000
    assert config.partition == "gpu-partition"
    assert config.gres == "my-custom-gres-from-task"
    assert config.constraint == "my-custom-constraint-from-wftask"
    assert config.job_name == "task_name"
    assert config.account == "default-account"
    assert config.time is None
    assert config.extra_lines == [
        "#SBATCH --option=value",
        "export VAR1=VALUE1",
        "export VAR2=VALUE2",
    ]
    assert config.user_local_exports == {"SOME_CACHE_DIR": "SOME_CACHE_DIR"}
    assert config.needs_gpu is True


def test_reference_gpu_options_only_with_needs_gpu() -> None:
    """Mirrors `test_slurm_config.py::test_get_slurm_config_internal_gpu_options`."""
    resource = SlurmResourceConfig(
        default_slurm_config={"partition": "main", "mem": "1G", "cpus_per_task": 1},
        gpu_slurm_config={"partition": "gpupartition", "mem": "20G", "gpus": "1"},
        batching_config=BATCHING,
    )
    assert resource.user_local_exports == {}
    assert resource.default_slurm_config.extra_lines == []
    plain = merge_slurm_config(resource, None)
    assert (plain.partition, plain.gpus, plain.mem_per_task_MB) == ("main", None, 1000)
    gpu = merge_slurm_config(resource, {"needs_gpu": True})
    assert (gpu.partition, gpu.gpus, gpu.mem_per_task_MB) == (
        "gpupartition",
        "1",
        20000,
    )
    for spelled in ("true", "TRUE", "True"):
        assert merge_slurm_config(resource, {"needs_gpu": spelled}).gpus == "1"
    assert merge_slurm_config(resource, {"needs_gpu": "false"}).gpus is None


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_needs_gpu_must_be_a_bool(bad: object) -> None:
    """Also None, which the reference's `interpret_as_bool` refuses (TypeError)."""
    resource = _resource()
    with pytest.raises(SlurmConfigError, match=f"needs_gpu={bad!r}"):
        merge_slurm_config(resource, {"needs_gpu": bad})


def test_gpu_extra_lines_replace_the_default_ones() -> None:
    """As in the reference, set GPU fields overwrite key by key (lists too)."""
    resource = _resource(
        default_slurm_config={
            "partition": "main",
            "cpus_per_task": 1,
            "mem": 100,
            "extra_lines": ["module load cpu"],
        },
        gpu_slurm_config={"extra_lines": ["#SBATCH --gres=gpu:v100:1"]},
    )
    assert merge_slurm_config(resource, {}).extra_lines == ["module load cpu"]
    gpu = merge_slurm_config(resource, {"needs_gpu": True})
    assert gpu.extra_lines == ["#SBATCH --gres=gpu:v100:1"]
    assert gpu.partition == "main"  # unset GPU fields keep the defaults


def test_slurm_config_for_runs_the_heuristics() -> None:
    """The reference's settings: 10 units -> jobs of 3, one unit at a time."""
    resource = _resource()
    config = slurm_config_for(resource, {}, which="parallel", tot_tasks=10)
    assert (config.tasks_per_job, config.parallel_tasks_per_job) == (3, 1)
    single = slurm_config_for(resource, None, which="non_parallel")
    assert (single.tasks_per_job, single.parallel_tasks_per_job) == (1, 1)
    gpu = slurm_config_for(
        _resource(batching_config={**BATCHING, "max_mem_per_job": 1000}),
        {"needs_gpu": True},
        which="parallel",
        tot_tasks=20,
    )
    assert gpu.parallel_tasks_per_job == 1  # no gpu_slurm_config needed
    with pytest.raises(SlurmHeuristicsError, match="max_num_jobs=4"):
        slurm_config_for(
            resource,
            {"tasks_per_job": 1, "parallel_tasks_per_job": 1},
            which="parallel",
            tot_tasks=10,
        )
    with pytest.raises(SlurmConfigError, match="which='both'"):
        slurm_config_for(resource, {}, which="both")  # type: ignore[arg-type]


def test_meta_values_are_checked() -> None:
    resource = _resource()
    assert merge_slurm_config(resource, {"cpus_per_task": "2"}).cpus_per_task == 2
    assert merge_slurm_config(resource, {"time": 30}).time == "30"
    assert merge_slurm_config(resource, {"gpus": 2}).gpus == "2"
    assert merge_slurm_config(resource, {"nodes": 2}).nodes == 2
    assert merge_slurm_config(resource, {"mem": "2G"}).mem_per_task_MB == 2000
    for key, value in [
        ("cpus_per_task", 0),
        ("cpus_per_task", True),
        ("cpus_per_task", "2.5"),
        ("tasks_per_job", -1),
        ("mem", "1.5G"),
        ("extra_lines", "module load x"),
        ("extra_lines", [3]),
    ]:
        with pytest.raises(
            SlurmConfigError, match="1.5G|module load x|3|-1|0|True|2.5"
        ):
            merge_slurm_config(resource, {key: value})


def test_account_comes_from_the_job_only() -> None:
    """Meta `account` is refused as in the reference; `slurm_account` (the job's)
    replaces the resource default, as the reference's `_enrich_slurm_config`."""
    resource = _resource(
        default_slurm_config={
            "partition": "main",
            "cpus_per_task": 1,
            "mem": 100,
            "account": "default",
        }
    )
    with pytest.raises(SlurmConfigError, match="account='mine'"):
        merge_slurm_config(resource, {"account": "mine"})
    assert merge_slurm_config(resource, {}).account == "default"
    assert merge_slurm_config(resource, {}, slurm_account="lab").account == "lab"


def test_worker_init_lines() -> None:
    """Directives join the extra lines, other lines become pre-submission commands;
    a repeated line is dropped instead of failing the script (reference: ValueError);
    an account line is refused as in the reference's `_check_slurm_account`."""
    resource = _resource(
        default_slurm_config={
            "partition": "main",
            "cpus_per_task": 1,
            "mem": 100,
            "extra_lines": ["module load a"],
        }
    )
    config = merge_slurm_config(
        resource,
        {},
        worker_init="module load a\n\n#SBATCH --qos=high\nsource env.sh\nsource env.sh",
    )
    assert config.extra_lines == ["module load a", "#SBATCH --qos=high"]
    assert config.pre_submission_commands == ["source env.sh"]
    for line in ("#SBATCH --account=other", "#SBATCH -A other"):
        with pytest.raises(SlurmConfigError, match="worker_init line"):
            merge_slurm_config(resource, {}, worker_init=line)


@pytest.mark.parametrize(
    "line",
    [
        "#SBATCH --mem=10G",
        "#SBATCH --mem-per-cpu=1G",
        "#SBATCH --partition=other",
        "#SBATCH --part=other",
        "#SBATCH -c 4",
        "#SBATCH -n4",
        "#SBATCH --ntasks 3",
        "#SBATCH --output=/tmp/x",
        "#SBATCH --qos=x --job-name=y",
        "#SBATCH --comment=mine",  # the submission token's place
    ],
)
def test_extra_lines_may_not_set_what_the_script_writes(line: str) -> None:
    with pytest.raises(SlurmConfigError, match="which the SLURM configuration writes"):
        merge_slurm_config(_resource(), {"extra_lines": [line]})


def test_allowed_extra_lines() -> None:
    lines = [
        "#SBATCH --gres=gpu:1",
        "#SBATCH --qos=normal",
        "#SBATCH --ntasks-per-node=1",
        "echo --mem=1",  # not a directive
    ]
    assert merge_slurm_config(_resource(), {"extra_lines": lines}).extra_lines == lines


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("exclude", "node1\necho pwned"),
        ("constraint", "a\\b"),
        ("time", "1:00\r"),
        ("gres", "gpu\x00"),
    ],
)
def test_unsafe_option_values_are_refused(key: str, value: str) -> None:
    with pytest.raises(SlurmConfigError, match=key):
        merge_slurm_config(_resource(), {key: value})


def test_meta_cannot_set_the_partition_or_unknown_keys() -> None:
    """As in the reference, only some keys of the meta are read; others are ignored."""
    config = merge_slurm_config(
        _resource(), {"partition": "main\necho pwned", "qos": "x", "prefix": "#X"}
    )
    assert (config.partition, config.prefix) == ("main", "#SBATCH")
    with pytest.raises(ValueError, match="partition"):
        _resource(default_slurm_config={"partition": "main\necho pwned"})


def test_resource_models() -> None:
    resource = _resource()
    assert resource.default_slurm_config.mem == 100
    assert resource.batching_config.max_mem_per_job == 500
    with pytest.raises(ValueError, match="extra"):
        SlurmResourceConfig.model_validate({**REFERENCE_SETTINGS, "other": 1})
    with pytest.raises(ValueError, match="not a shell identifier"):
        _resource(user_local_exports={"A B": "x"})
    stripped = _resource(
        default_slurm_config={"partition": "  main ", "extra_lines": [" module x "]}
    )
    assert stripped.default_slurm_config.partition == "main"
    assert stripped.default_slurm_config.extra_lines == ["module x"]
    with pytest.raises(ValueError, match="partition"):
        _resource(default_slurm_config={"partition": "   "})


def test_missing_required_value_names_it() -> None:
    resource = _resource(default_slurm_config={"cpus_per_task": 1, "mem": 100})
    with pytest.raises(SlurmConfigError, match="partition"):
        merge_slurm_config(resource, {})


def test_from_the_domain_runner_config() -> None:
    """`fractal_core.domain`'s JobRunnerConfigSLURM converts with its set fields."""
    domain = JobRunnerConfigSLURM.model_validate(
        {
            **REFERENCE_SETTINGS,
            "default_slurm_config": {
                "partition": "main",
                "cpus_per_task": 1,
                "mem": "2G",
                "use_mem_per_cpu": True,
            },
            "gpu_slurm_config": {"partition": "gpu"},
        }
    )
    resource = SlurmResourceConfig.from_runner_config(domain)
    assert resource.default_slurm_config.mem == 2000
    assert "account" not in resource.default_slurm_config.model_fields_set
    config = merge_slurm_config(resource, {"needs_gpu": True})
    assert config.partition == "gpu"
    assert config.mem_option == "mem-per-cpu"
    assert SlurmResourceConfig.from_runner_config(REFERENCE_SETTINGS) == _resource()
    with pytest.raises(SlurmConfigError, match="mem"):
        SlurmResourceConfig.from_runner_config(
            {**REFERENCE_SETTINGS, "default_slurm_config": {"mem": "1X"}}
        )


def test_mem_option() -> None:
    base = {"partition": "main", "cpus_per_task": 1, "mem": 100}
    assert merge_slurm_config(_resource(), {}).mem_option == "mem"
    per_cpu = _resource(default_slurm_config={**base, "mem_option": "mem-per-cpu"})
    assert merge_slurm_config(per_cpu, {}).mem_option == "mem-per-cpu"
    gpu_mem = _resource(
        default_slurm_config={**base, "use_mem_per_cpu": True},
        gpu_slurm_config={"use_mem_per_cpu": False},
    )
    assert merge_slurm_config(gpu_mem, {}).mem_option == "mem-per-cpu"
    assert merge_slurm_config(gpu_mem, {"needs_gpu": True}).mem_option == "mem"
    with pytest.raises(ValueError, match="contradicts"):
        _resource(
            default_slurm_config={**base, "use_mem_per_cpu": True, "mem_option": "mem"}
        )


def test_slurm_config_direct() -> None:
    """`SlurmConfig` can be built directly; the same checks apply."""
    values: dict[str, Any] = dict(
        partition="x",
        cpus_per_task=1,
        mem_per_task_MB=1,
        target_cpus_per_job=1,
        max_cpus_per_job=1,
        target_mem_per_job=1,
        max_mem_per_job=1,
        target_num_jobs=1,
        max_num_jobs=1,
    )
    config = SlurmConfig(**values)
    assert config.batch_size is None
    assert config.shebang_line == "#!/bin/sh"
    with pytest.raises(ValueError, match="extra"):
        SlurmConfig(**values, unknown=1)
    with pytest.raises(ValueError, match="mem_per_task_MB"):
        SlurmConfig(**{**values, "mem_per_task_MB": 0})
    with pytest.raises(ValueError, match="single line"):
        SlurmConfig(**values, extra_lines=["module load a\nrm -rf /"])
    with pytest.raises(ValueError, match="shebang_line"):
        SlurmConfig(**values, shebang_line="/bin/sh")
