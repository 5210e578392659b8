"""perfctl.yaml as one validated, frozen model: the sections, and the checks across them
(scenario and objective references). Loading: orchestrator/config/load.py."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from orchestrator.config.base import Model, Name
from orchestrator.config.objectives import GateSettings, Objective
from orchestrator.config.prometheus_settings import PrometheusSettings
from orchestrator.config.scenario import Scenario
from orchestrator.config.settings import GrafanaSettings, K6Settings, K8sSettings, RollbackSettings, Target


class Config(Model):
    version: Literal[1] = 1
    name: Name = "perfctl"
    target: Target = Field(default_factory=Target)
    k6: K6Settings = Field(default_factory=K6Settings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    results_dir: str = "results"
    gate: GateSettings = Field(default_factory=GateSettings)
    grafana: GrafanaSettings = Field(default_factory=GrafanaSettings)
    scenarios: dict[Name, Scenario] = Field(min_length=1)
    objectives: list[Objective] = Field(default_factory=list)
    rollback: RollbackSettings = Field(
        default_factory=RollbackSettings, description="actions on a failed/inconclusive gate; off unless configured"
    )
    k8s: K8sSettings = Field(default_factory=K8sSettings, description="k6-operator TestRuns (perfctl k8s render)")

    @model_validator(mode="after")
    def _references(self) -> "Config":
        problems = []
        for name, scenario in self.scenarios.items():
            for inc in scenario.include:
                if inc not in self.scenarios:
                    problems.append(f"scenarios.{name}.include: unknown scenario '{inc}'")
                elif self.scenarios[inc].include:
                    problems.append(f"scenarios.{name}.include: '{inc}' includes others itself; nest one level only")
        for i, obj in enumerate(self.objectives):
            for sc in obj.scenarios:
                if sc not in self.scenarios:
                    problems.append(f"objectives[{i}].scenarios: unknown scenario '{sc}'")
        names = [o.name for o in self.objectives]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"objectives: name '{dup}' is used twice")
        if self.gate.warning_percent > self.gate.pass_percent:
            problems.append("gate.warning_percent: must not exceed gate.pass_percent")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class LoadedConfig(Model):
    """A validated config with where it came from."""

    config: Config
    path: Path
    digest: str  # sha256 of the file's bytes, recorded in every run
