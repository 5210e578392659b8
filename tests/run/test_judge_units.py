"""What k6 itself says (thresholds, completion) joins the verdict by rules, never by score."""

from __future__ import annotations

from orchestrator import criteria
from orchestrator.verdict import slo
from orchestrator.run.judge import k6_grades


def _objectives(passing: int, failing: int) -> list[slo.Grade]:
    spec = lambda n: slo.ObjectiveSpec(name=f"o{n}", pass_criteria=criteria.parse_criteria("< 1"))  # noqa: E731
    return [slo.grade(spec(i), 0.5) for i in range(passing)] + [slo.grade(spec(100 + i), 2.0) for i in range(failing)]


def test_passed_k6_thresholds_do_not_lift_a_failing_score():
    objectives = _objectives(11, 4)  # 73.3 %: below the 75 % warning line
    assert slo.decide(objectives).result is slo.Result.FAIL
    with_k6 = slo.decide(objectives + k6_grades(0, None, has_thresholds=True))
    assert with_k6.result is slo.Result.FAIL
    assert round(with_k6.percent, 1) == 73.3


def test_failed_k6_thresholds_fail_a_passing_score():
    verdict = slo.decide(_objectives(10, 0) + k6_grades(99, None, has_thresholds=True))
    assert verdict.result is slo.Result.FAIL
    assert verdict.percent == 100.0


def test_unknown_or_bad_k6_exit_is_never_a_pass():
    for exit_code in (None, 107, 108, -9):
        verdict = slo.decide(_objectives(10, 0) + k6_grades(exit_code, None, has_thresholds=False))
        assert verdict.result is slo.Result.INCONCLUSIVE, exit_code
    interrupted = slo.decide(_objectives(10, 0) + k6_grades(0, "SIGINT", has_thresholds=False))
    assert interrupted.result is slo.Result.INCONCLUSIVE
