"""Criteria grammar, grading and the verdict: pure functions, so tested exhaustively."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orchestrator.criteria import Criteria, Criterion, criteria_hold, parse_criteria, relative_change
from orchestrator.verdict.slo import Grade, ObjectiveSpec, Result, decide, grade
from orchestrator.units import format_value

# ---- helpers ------------------------------------------------------------------------------------------


def holds(text: str, value: float, baseline: float | None = None) -> bool | None:
    return criteria_hold(parse_criteria(text), value, baseline)


def spec(name: str = "obj", passing: str = "< 1", warning: str | None = None, weight: float = 1.0, key: bool = False):
    return ObjectiveSpec(
        name=name,
        pass_criteria=parse_criteria(passing),
        warning_criteria=parse_criteria(warning) if warning is not None else None,
        weight=weight,
        key=key,
    )


_FACTOR = {Result.PASS: 1.0, Result.WARNING: 0.5, Result.FAIL: 0.0, Result.INCONCLUSIVE: 0.0, Result.NOT_EVALUATED: 0.0}


def g(result: Result, name: str = "obj", weight: float = 1.0, key: bool = False, reason: str = "") -> Grade:
    if not reason and result in (Result.FAIL, Result.INCONCLUSIVE, Result.NOT_EVALUATED):
        reason = f"{result.value} because"
    return Grade(
        name=name,
        result=result,
        value=None if result is Result.INCONCLUSIVE else 1.0,
        score=weight * _FACTOR[result],
        weight=weight,
        key=key,
        criteria="< 1",
        warning=None,
        reason=reason,
    )


# ---- parse_criteria: each form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, op, value",
    [
        ("< 0.01", "<", 0.01),
        ("<=0.5", "<=", 0.5),
        (">= 95", ">=", 95.0),
        ("> 1", ">", 1.0),
        ("== 0", "==", 0.0),
        ("!= 0", "!=", 0.0),
        ("< -5", "<", -5.0),
        ("<= 1e-3", "<=", 0.001),
        ("< 2.5E+2", "<", 250.0),
        ("> .5", ">", 0.5),
        ("> 5.", ">", 5.0),
        ("  <   7  ", "<", 7.0),
        ("<\t7", "<", 7.0),
    ],
)
def test_parse_absolute(text, op, value):
    c = parse_criteria(text)
    assert c.text == text.strip()
    (part,) = c.parts
    assert (part.op, part.value, part.high, part.relative) == (op, value, None, False)
    assert part.text == text.strip()


@pytest.mark.parametrize(
    "text, op, percent",
    [
        ("<= +10%", "<=", 10.0),
        (">= -5%", ">=", -5.0),
        ("< +0%", "<", 0.0),
        ("> -0.5%", ">", -0.5),
        ("<= +10 %", "<=", 10.0),
        ("!= +1e1%", "!=", 10.0),
    ],
)
def test_parse_relative(text, op, percent):
    (part,) = parse_criteria(text).parts
    assert (part.op, part.value, part.relative) == (op, percent, True)


@pytest.mark.parametrize(
    "text, low, high",
    [
        ("between 90 and 110", 90.0, 110.0),
        ("between 5 and 5", 5.0, 5.0),
        ("between -10 and -1", -10.0, -1.0),
        ("BETWEEN 1e-3 AND 0.5", 0.001, 0.5),
        ("between   1   and   2", 1.0, 2.0),
    ],
)
def test_parse_between(text, low, high):
    (part,) = parse_criteria(text).parts
    assert (part.op, part.value, part.high, part.relative) == ("between", low, high, False)
    assert part.text == text


def test_parse_conjunction():
    c = parse_criteria("< 500 and <= +10%")
    assert c.text == "< 500 and <= +10%"
    assert [(p.op, p.value, p.relative, p.text) for p in c.parts] == [
        ("<", 500.0, False, "< 500"),
        ("<=", 10.0, True, "<= +10%"),
    ]


def test_parse_conjunction_keeps_the_and_of_between():
    c = parse_criteria("between 90 and 110 and != 100")
    assert [p.text for p in c.parts] == ["between 90 and 110", "!= 100"]
    c = parse_criteria("> 0 and between 1 and 2 and between 3 and 4")
    assert [p.text for p in c.parts] == ["> 0", "between 1 and 2", "between 3 and 4"]
    assert [(p.value, p.high) for p in c.parts[1:]] == [(1.0, 2.0), (3.0, 4.0)]


def test_parse_conjunction_is_case_insensitive():
    assert [p.text for p in parse_criteria("< 5 AND > 1").parts] == ["< 5", "> 1"]


def test_parse_returns_plain_dataclasses():
    assert parse_criteria("< 1") == Criteria(parts=(Criterion("<", 1.0, text="< 1"),), text="< 1")


# ---- parse_criteria: errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("<< 3", "expected an operator (<, <=, >, >=, ==, !=) or 'between A and B'"),
        ("=> 3", "expected an operator"),
        ("=< 3", "expected an operator"),
        ("= 3", "expected an operator"),
        ("<=> 3", "expected an operator"),
        ("0.5", "expected an operator"),
        ("lt 5", "expected an operator"),
        ("<", "missing a number"),
        ("< abc", "'abc' is not a number"),
        ("< nan", "'nan' is not a number"),
        ("< inf", "'inf' is not a number"),
        ("< 1_000", "not a number"),
        ("< 5ms", "not a number"),
        ("< 1e999", "out of range"),
        ("< 1 2", "not a number"),
        ("< ٣", "not a number"),  # Arabic-Indic digit: float() would take it, we do not
        ("<= 10%", "explicit sign"),
        ("< +10", "has a sign but no '%'"),
        ("<= +%", "not a number"),
        ("between 110 and 90", "low bound 110 is above high bound 90"),
        ("between 90", "expected 'between A and B'"),
        ("between 90 and", "expected 'between A and B'"),
        ("between and 5", "expected 'between A and B'"),
        ("between 1 or 2", "expected 'between A and B'"),
        ("between -5% and +5%", "plain numbers, not percentages"),
        ("between x and 5", "'x' is not a number"),
        ("< 5 and", "'and' must join two criteria"),
        ("and < 5", "'and' must join two criteria"),
        ("< 5 and and > 1", "'and' must join two criteria"),
        ("< 5 and >> 1", "bad criterion '>> 1'"),
    ],
)
def test_parse_errors(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_criteria(text)
    assert fragment in str(info.value)


def test_parse_error_names_the_part():
    with pytest.raises(ValueError, match=r"^bad criterion '<< 3': expected an operator"):
        parse_criteria("<< 3")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_parse_empty(text):
    with pytest.raises(ValueError, match="empty criteria"):
        parse_criteria(text)


# ---- criteria_hold: every operator --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("< 10", 9.99, True),
        ("< 10", 10, False),
        ("< 10", 11, False),
        ("<= 10", 10, True),
        ("<= 10", 10.000001, False),
        ("> 10", 10, False),
        ("> 10", 10.5, True),
        (">= 10", 10, True),
        (">= 10", 9.999, False),
        ("== 0", 0, True),
        ("== 0", -0.0, True),
        ("== 0", 1e-12, False),
        ("!= 0", 0, False),
        ("!= 0", 1e-12, True),
        ("< -5", -6, True),
        ("< -5", -5, False),
        ("< 10", -math.inf, True),
        ("< 10", math.inf, False),
        ("> 10", math.inf, True),
    ],
)
def test_absolute_operators(text, value, expected):
    assert holds(text, value) is expected
    assert holds(text, value, baseline=123.0) is expected  # a baseline does not matter


@pytest.mark.parametrize(
    "value, expected",
    [(89.999, False), (90, True), (100, True), (110, True), (110.0001, False), (-100, False)],
)
def test_between_is_inclusive(value, expected):
    assert holds("between 90 and 110", value) is expected


def test_between_single_point():
    assert holds("between 5 and 5", 5) is True
    assert holds("between 5 and 5", 5.0000001) is False


def test_nan_value_is_unknown():
    for text in ["< 1", "between 0 and 1", "<= +10%", "!= 0"]:
        assert holds(text, math.nan, baseline=1.0) is None


# ---- criteria_hold: relative ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, baseline, expected",
    [
        # positive baseline
        ("<= +10%", 110, 100, True),
        ("<= +10%", 110.01, 100, False),
        ("<= +10%", 50, 100, True),
        ("< +10%", 110, 100, False),
        (">= -5%", 95, 100, True),
        (">= -5%", 94.99, 100, False),
        ("> -5%", 95, 100, False),
        ("< +0%", 99.9, 100, True),
        ("< +0%", 100, 100, False),
        ("<= +0%", 100, 100, True),
        ("== +0%", 100, 100, True),
        ("!= +0%", 100, 100, False),
        ("== +10%", 110, 100, True),
        # negative baseline: the percent applies to |baseline|, so +10% is still "higher"
        ("<= +10%", -90, -100, True),
        ("<= +10%", -89.9, -100, False),
        ("<= +10%", -110, -100, True),
        (">= -5%", -105, -100, True),
        (">= -5%", -105.1, -100, False),
        # tiny and huge baselines
        ("<= +10%", 1.1e-9, 1e-9, True),
        ("<= +10%", 1.2e-9, 1e-9, False),
        ("<= +10%", 1.1e12, 1e12, True),
    ],
)
def test_relative(text, value, baseline, expected):
    assert holds(text, value, baseline) is expected


@pytest.mark.parametrize("baseline", [0.7, 0.1, 3.0, 1 / 3, 123.456])
def test_relative_bound_is_exact_despite_floating_point(baseline):
    # 0.7 * 1.1 is 0.77 to people but 0.7700000000000001 to floats; both sides must agree.
    on_bound = baseline * 1.1
    assert holds("<= +10%", on_bound, baseline) is True
    assert holds("< +10%", on_bound, baseline) is False
    assert holds(">= +10%", on_bound, baseline) is True
    assert holds("== +10%", on_bound, baseline) is True


@pytest.mark.parametrize("baseline", [None, math.nan, math.inf, -math.inf])
def test_relative_without_usable_baseline_is_unknown(baseline):
    assert holds("<= +10%", 5, baseline) is None
    assert holds(">= -5%", 0, baseline) is None


@pytest.mark.parametrize(
    "text, value, expected",
    [
        # Against 0 the relative change is 0 for 0, +inf for a positive value, -inf for a negative one.
        ("<= +10%", 0, True),
        ("<= +10%", 1e-9, False),
        ("<= +10%", 5, False),
        ("<= +10%", -5, True),
        ("< +10%", 0, True),  # 0% change is below +10% (a bound of 0 would say False)
        (">= -5%", 0, True),
        (">= -5%", 3, True),
        (">= -5%", -3, False),
        ("> +0%", 0, False),
        ("== +0%", 0, True),
        ("!= +0%", 2, True),
    ],
)
@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_relative_against_a_zero_baseline_is_defined(text, value, expected, zero):
    assert holds(text, value, zero) is expected


@given(
    st.floats(min_value=-1e6, max_value=1e6).filter(lambda x: abs(x) > 1e-6),
    st.floats(min_value=-1e7, max_value=1e7),
    st.floats(min_value=0, max_value=500),
)
def test_relative_change_agrees_with_the_bound(baseline, value, percent):
    # The bound form (baseline + |baseline| * p / 100) and the change form are one rule.
    change = relative_change(value, baseline)
    assume(abs(change - percent) > 1e-6 * max(1.0, percent))  # off the floating-point edge
    assert holds(f"<= +{_num(percent)}%", value, baseline) is (change <= percent)


def test_conjunction_three_valued():
    c = parse_criteria("< 500 and <= +10%")
    assert criteria_hold(c, 400, 380) is True
    assert criteria_hold(c, 400, 300) is False  # relative part fails
    assert criteria_hold(c, 600, 1000) is False  # absolute part fails
    assert criteria_hold(c, 400, None) is None  # could still go either way
    # no baseline could make 600 < 500 hold, so the answer is known
    assert criteria_hold(c, 600, None) is False


def test_conjunction_all_parts_must_hold():
    c = parse_criteria("> 1 and < 5 and != 3")
    assert [criteria_hold(c, v, None) for v in (0, 1, 2, 3, 4, 5)] == [False, False, True, False, True, False]


# ---- grade -----------------------------------------------------------------------------------------------


def test_grade_pass():
    out = grade(spec("err", "< 0.01", weight=2, key=True), 0.001)
    assert out == Grade(
        name="err",
        result=Result.PASS,
        value=0.001,
        score=2,
        weight=2,
        key=True,
        criteria="< 0.01",
        warning=None,
        baseline=None,
        reason="",
    )


def test_grade_fail_reason():
    out = grade(spec("err", "< 0.01"), 0.034)
    assert (out.result, out.score) == (Result.FAIL, 0)
    assert out.reason == "value 0.034 does not meet < 0.01"


def test_grade_fail_reason_shows_enough_digits_to_differ_from_the_bound():
    assert grade(spec("err", "< 0.01"), 0.01004).reason == "value 0.01004 does not meet < 0.01"


def test_grade_warning():
    out = grade(spec("err", "< 0.01", "< 0.05", weight=3), 0.02)
    assert (out.result, out.score, out.warning) == (Result.WARNING, 1.5, "< 0.05")
    assert "< 0.05" in out.reason and "< 0.01" in out.reason


def test_grade_fail_with_warning():
    out = grade(spec("err", "< 0.01", "< 0.05"), 0.2)
    assert (out.result, out.score) == (Result.FAIL, 0)
    assert out.reason == "value 0.2 does not meet < 0.01 nor warning < 0.05"


def test_grade_pass_beats_warning():
    # The warning band is only consulted when pass fails.
    assert grade(spec("x", "< 10", "> 1000"), 5).result is Result.PASS


@pytest.mark.parametrize("value", [None, math.nan])
def test_grade_no_data(value):
    out = grade(spec("x", "< 1", weight=4), value)
    assert (out.result, out.score, out.value, out.reason) == (Result.INCONCLUSIVE, 0, None, "no data")
    out = grade(spec("x", "< 1"), value, missing_reason="query returned no series")
    assert out.reason == "query returned no series"


def test_grade_relative_without_baseline_is_not_evaluated():
    out = grade(spec("p95", "<= +10%", weight=3), 120)
    assert (out.result, out.score, out.value, out.baseline) == (Result.NOT_EVALUATED, 0, 120, None)
    assert out.reason == "no baseline yet for '<= +10%' (none given): this run can become one"
    why = grade(spec("p95", "<= +10%"), 120, no_baseline_why="the baseline runs have no value for 'p95'")
    assert why.reason == "no baseline yet for '<= +10%' (the baseline runs have no value for 'p95'): this run can become one"
    nan = grade(spec("p95", "<= +10%"), 120, baseline=math.nan)
    assert nan.result is Result.NOT_EVALUATED and "the baseline is NaN" in nan.reason


def test_grade_require_baseline_keeps_it_inconclusive():
    out = grade(spec("p95", "<= +10%"), 120, require_baseline=True)
    assert out.result is Result.INCONCLUSIVE
    assert out.reason == "relative criterion '<= +10%' needs a baseline; none given (gate.require_baseline)"
    # With a baseline the flag changes nothing.
    assert grade(spec("p95", "<= +10%"), 105, 100, require_baseline=True).result is Result.PASS


def test_grade_relative_against_zero_baseline():
    assert grade(spec("lag", "<= +10%"), 0, baseline=0).result is Result.PASS
    out = grade(spec("lag", "<= +10%"), 3, baseline=0)
    assert out.result is Result.FAIL and out.reason == "value 3 does not meet <= +10% (baseline 0)"


def test_grade_relative_with_baseline():
    assert grade(spec("p95", "<= +10%"), 105, baseline=100).result is Result.PASS
    out = grade(spec("p95", "<= +10%"), 120, baseline=100)
    assert out.result is Result.FAIL
    assert out.reason == "value 120 does not meet <= +10% (baseline 100)"
    assert out.baseline == 100


def test_grade_conjunction_without_baseline_can_still_fail():
    out = grade(spec("p95", "< 500 and <= +10%"), 600)
    assert out.result is Result.FAIL


def test_grade_warning_needs_baseline():
    out = grade(spec("p95", "< 100", "<= +10%"), 150)
    assert out.result is Result.NOT_EVALUATED
    assert "no baseline yet for '<= +10%'" in out.reason
    assert grade(spec("p95", "< 100", "<= +10%"), 150, require_baseline=True).result is Result.INCONCLUSIVE


def test_grade_pass_needs_baseline_even_if_warning_holds():
    # Might be PASS, might be WARNING: saying either would be a guess.
    out = grade(spec("p95", "< 500 and <= +10%", "< 800"), 400)
    assert out.result is Result.NOT_EVALUATED


# ---- decide: the rules, in order ------------------------------------------------------------------------

P, W, F, I = Result.PASS, Result.WARNING, Result.FAIL, Result.INCONCLUSIVE


def test_decide_no_grades_is_inconclusive():
    v = decide([])
    assert v.result is I
    assert v.reasons == ("no objectives configured",)
    assert (v.score, v.max_score, v.percent) == (0, 0, 0)


def test_decide_key_failure_fails_whatever_the_score():
    grades = [g(P, "a", weight=100), g(F, "loop_rate", key=True, reason="value 3 does not meet > 5")]
    v = decide(grades)
    assert v.result is F
    assert v.reasons == ("key objective 'loop_rate' failed: value 3 does not meet > 5",)
    assert v.percent == pytest.approx(100 * 100 / 101)


def test_decide_key_failure_beats_inconclusive():
    v = decide([g(I, "a"), g(F, "b", key=True)])
    assert v.result is F
    assert any("'b'" in r for r in v.reasons)


def test_decide_names_every_failed_key_objective():
    v = decide([g(F, "a", key=True), g(F, "b", key=True), g(F, "c")])
    assert [r.split(":")[0] for r in v.reasons] == ["key objective 'a' failed", "key objective 'b' failed"]


def test_decide_key_warning_is_not_a_key_failure():
    assert decide([g(W, "a", key=True), g(P, "b", weight=9)]).result is P


def test_decide_inconclusive_beats_score():
    v = decide([g(P, "a", weight=100), g(I, "b", weight=0.001, reason="no data"), g(I, "c")])
    assert v.result is I
    assert v.reasons == ("objective 'b' is inconclusive: no data", "objective 'c' is inconclusive: inconclusive because")


def test_decide_inconclusive_beats_non_key_failure():
    assert decide([g(F, "a"), g(I, "b")]).result is I


@pytest.mark.parametrize(
    "results, weights, expected",
    [
        ([P], [1], P),
        ([W], [1], F),  # 50%
        ([F], [1], F),
        # 9 of 10 → exactly 90%: pass
        ([P] * 9 + [F], [1] * 10, P),
        # 89.5% → warning
        ([P] * 8 + [W] + [F], [1] * 10, W),
        # 3 of 4 → exactly 75%: warning
        ([P, P, P, F], [1] * 4, W),
        # 7 of 10 → 70%: fail
        ([P] * 7 + [F] * 3, [1] * 10, F),
        # weights: one heavy pass outweighs a light failure
        ([P, F], [9, 1], P),
        ([P, F], [1, 9], F),
        ([P, W], [1, 1], W),  # 75%
        ([P, W, W], [2, 1, 1], W),  # 3/4 = 75%
    ],
)
def test_decide_score_thresholds(results, weights, expected):
    v = decide([g(r, f"o{i}", weight=w) for i, (r, w) in enumerate(zip(results, weights))])
    assert v.result is expected
    assert v.max_score == sum(weights)


def test_decide_score_fields():
    v = decide([g(P, "a", weight=2), g(W, "b", weight=1), g(F, "c", weight=1)])
    assert (v.score, v.max_score, v.percent) == (2.5, 4, 62.5)
    assert v.grades[1].name == "b"


def test_decide_custom_thresholds():
    grades = [g(P, "a"), g(F, "b")]  # 50%
    assert decide(grades, pass_percent=50, warning_percent=10).result is P
    assert decide(grades, pass_percent=60, warning_percent=50).result is W
    assert decide(grades, pass_percent=60, warning_percent=51).result is F


def test_decide_threshold_epsilon():
    # 0.1 * 9 / (0.1 * 10) is not exactly 0.9 in floating point; it must still pass at 90%.
    grades = [g(P, f"p{i}", weight=0.1) for i in range(9)] + [g(F, "f", weight=0.1)]
    v = decide(grades)
    assert v.percent == pytest.approx(90)
    assert v.result is P
    # ... and the same trick near the warning threshold
    grades = [g(P, f"p{i}", weight=0.1) for i in range(3)] + [g(F, "f", weight=0.1)]
    assert decide(grades).result is W


def test_decide_pass_with_warnings_says_so():
    v = decide([g(P, f"p{i}") for i in range(19)] + [g(W, "lag")])  # 97.5%
    assert v.result is P
    assert "1 objective(s) in warning: lag" in v.reasons


def test_decide_pass_without_warnings_does_not_mention_them():
    v = decide([g(P, "a")])
    assert not any("warning:" in r for r in v.reasons)


def test_decide_reasons_name_failed_objectives_on_score_failure():
    v = decide([g(F, "a", reason="value 5 does not meet < 1"), g(F, "b")])
    assert v.result is F
    assert "objective 'a' failed: value 5 does not meet < 1" in v.reasons


def test_decide_zero_weights_are_inconclusive():
    v = decide([g(P, "a", weight=0)])
    assert v.result is I
    assert "cannot compute a score" in v.reasons[0]


NE = Result.NOT_EVALUATED


def test_decide_not_evaluated_weighs_nothing_and_is_said():
    v = decide([g(P, "p95_abs", weight=2), g(NE, "p95_rel", weight=5, reason="no baseline yet for '<= +10%' (none given): this run can become one")])
    assert (v.result, v.score, v.max_score, v.percent) == (P, 2, 2, 100)
    assert v.reasons[0] == "score 100% meets the pass threshold 90%"
    assert "objective 'p95_rel' not evaluated: no baseline yet for '<= +10%' (none given): this run can become one" in v.reasons


def test_decide_nothing_judged_is_never_a_pass():
    # Only not-evaluated objectives: the values exist, but nothing was compared.
    v = decide([g(NE, "p95_rel"), g(NE, "rps_rel", weight=3)])
    assert v.result is I and (v.score, v.max_score) == (0, 0)
    assert v.reasons[0].startswith("nothing was judged: every objective with weight is relative and has no baseline yet")
    assert any("'p95_rel' not evaluated" in r for r in v.reasons)
    # A weightless grade without data judges nothing either.
    assert decide([g(NE, "p95_rel"), g(I, "k6_completed", weight=0)]).result is I
    assert decide([g(NE, "p95_rel"), g(W, "guard:errors", weight=0, key=True)]).result is I


def test_decide_first_run_of_only_relative_objectives_rests_on_guards_and_k6():
    # Every weighted objective is relative and has no baseline yet: the weightless rule grades
    # (guards, k6's thresholds) that passed on data carry the run, and the verdict says so.
    v = decide([g(NE, "p95_rel"), g(P, "guard:errors", weight=0, key=True), g(P, "k6_thresholds", weight=0, key=True)])
    assert v.result is P and (v.score, v.max_score) == (0, 0)
    assert v.reasons[0].startswith("no score yet: every objective with weight is relative and has no baseline; "
                                   "the verdict rests on guard:errors, k6_thresholds, which passed")
    # Without the relative objective there is nothing to bootstrap: weights summing to 0 stay inconclusive.
    assert decide([g(P, "guard:errors", weight=0, key=True)]).result is I
    # A failed key guard fails it as always.
    assert decide([g(NE, "p95_rel"), g(F, "guard:errors", weight=0, key=True)]).result is F


def test_decide_score_text_is_never_rounded_across_the_threshold():
    # 8.998 of 10 points: 89.98%, a warning; the reason must not read "score 90% is below ... 90%".
    grades = [g(P, "a", weight=8.5), g(W, "b", weight=0.996), g(F, "c", weight=0.504)]
    v = decide(grades)
    assert v.result is W and 89.9 < v.percent < 90
    assert v.reasons[0] == "score 89.9% is below the pass threshold 90%"
    exact = decide(grades, pass_percent=89.98)
    assert exact.result is P and exact.reasons[0] == "score 89.98% meets the pass threshold 89.98%"


def test_decide_ignores_a_hand_built_inconsistent_score():
    bad = Grade("a", P, 1.0, score=999, weight=1, key=False, criteria="< 1", warning=None)
    assert decide([bad, g(F, "b")]).percent == 50


def test_grade_then_decide_end_to_end():
    grades = [
        grade(spec("error_ratio", "< 0.01", "< 0.05", key=True), 0.002),
        grade(spec("p95", "< 500 and <= +10%", "< 800", weight=2), 480, baseline=450),
        grade(spec("rps", ">= 95"), 96.5),
        grade(spec("loop", "between 90 and 110", "between 80 and 120"), 85),
    ]
    v = decide(grades)
    assert [x.result for x in grades] == [P, P, P, W]
    assert (v.result, v.score, v.max_score) == (P, 4.5, 5)
    assert "1 objective(s) in warning: loop" in v.reasons


# ---- format_value ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "—"),
        (0, "0"),
        (-0.0, "0"),
        (0.0123, "0.0123"),
        (0.01234, "0.0123"),
        (95.23, "95.2"),
        (95.0, "95"),
        (4, "4"),
        (3.5, "3.5"),
        (0.5, "0.5"),
        (999, "999"),
        (999.7, "999.7"),
        (1234.5, "1,234.5"),
        (1000, "1,000"),
        (12345, "12,345"),
        (12345.6, "12,346"),
        (1_234_567, "1,234,567"),
        (-12345, "-12,345"),
        (1.2e-05, "1.2e-05"),
        (0.0001, "0.0001"),
        (1e20, "1e+20"),
        (math.nan, "NaN"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


def test_format_value_digits():
    assert format_value(0.0340001, digits=6) == "0.0340001"
    assert format_value(123456.7, digits=6) == "123457"
    assert format_value(1234567.8, digits=6) == "1,234,568"


# ---- properties ----------------------------------------------------------------------------------------------

# Verdicts from worst to best. INCONCLUSIVE sits between FAIL and WARNING: it is never a
# pass, but a gate that cannot decide is better news than one that failed.
VERDICT_RANK = {F: 0, I: 1, W: 2, P: 3}
GRADE_BETTER = {F: W, W: P}

weights = st.floats(min_value=0.01, max_value=100, allow_nan=False, allow_infinity=False)
grade_lists = st.lists(
    st.tuples(st.sampled_from(list(Result)), weights, st.booleans()),
    min_size=1,
    max_size=12,
).map(lambda rows: [g(r, f"o{i}", weight=w, key=k) for i, (r, w, k) in enumerate(rows)])


@settings(max_examples=300)
@given(grade_lists, st.data())
def test_improving_one_grade_never_worsens_the_verdict(grades, data):
    improvable = [i for i, x in enumerate(grades) if x.result in GRADE_BETTER]
    assume(improvable)
    i = data.draw(st.sampled_from(improvable))
    better = list(grades)
    old = grades[i]
    better[i] = g(GRADE_BETTER[old.result], old.name, old.weight, old.key)
    before, after = decide(grades), decide(better)
    assert VERDICT_RANK[after.result] >= VERDICT_RANK[before.result]
    assert after.score >= before.score


@given(grade_lists)
def test_never_pass_when_anything_is_inconclusive(grades):
    v = decide(grades)
    if any(x.result is I for x in grades):
        assert v.result is not P
        assert v.result in (I, F)
    if v.result is P:
        assert all(x.result is not I for x in grades)


@settings(max_examples=300)
@given(grade_lists, st.lists(weights, min_size=1, max_size=4), st.booleans())
def test_a_not_evaluated_grade_never_changes_the_verdict_and_weighs_nothing(grades, extra_weights, key):
    judged = [x for x in grades if x.result is not NE]
    assume(judged)
    more = judged + [g(NE, f"rel{i}", weight=w, key=key) for i, w in enumerate(extra_weights)]
    before, after = decide(judged), decide(more)
    assert after.result is before.result
    assert (after.score, after.max_score, after.percent) == (before.score, before.max_score, before.percent)


@given(grade_lists, st.lists(st.tuples(st.sampled_from([P, W, F, I]), st.booleans()), max_size=3))
def test_a_pass_always_rests_on_a_passed_grade_with_data(grades, weightless):
    grades = grades + [g(r, f"rule{i}", weight=0, key=k) for i, (r, k) in enumerate(weightless)]
    v = decide(grades)
    if v.result in (P, W):
        assert any(x.result is P and x.value is not None for x in grades)
        assert not any(x.result is I for x in grades)


@settings(max_examples=300)
@given(grade_lists, st.lists(st.tuples(st.sampled_from([P, W, F, I]), st.booleans()), max_size=3), weights)
def test_a_not_evaluated_grade_never_worsens_the_verdict(grades, weightless, weight):
    grades = grades + [g(r, f"rule{i}", weight=0, key=k) for i, (r, k) in enumerate(weightless)]
    before = decide(grades)
    after = decide(grades + [g(NE, "rel", weight=weight)])
    assert VERDICT_RANK[after.result] >= VERDICT_RANK[before.result]
    assert (after.score, after.max_score) == (before.score, before.max_score)


@given(grade_lists)
def test_key_failure_always_fails(grades):
    if any(x.key and x.result is F for x in grades):
        assert decide(grades).result is F


@given(grade_lists)
def test_score_bounds(grades):
    v = decide(grades)
    assert 0 <= v.score <= v.max_score + 1e-9
    assert 0 <= v.percent <= 100 + 1e-9
    assert v.reasons  # a verdict always says why


@given(st.lists(st.sampled_from([P, W, F]), min_size=1, max_size=10), st.permutations(range(10)))
def test_order_of_objectives_does_not_matter(results, perm):
    grades = [g(r, f"o{i}") for i, r in enumerate(results)]
    shuffled = [grades[j] for j in perm if j < len(grades)]
    assert decide(grades).result is decide(shuffled).result


# Generated criteria → text → parse must give the same criteria back.
numbers = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def _num(x: float) -> str:
    return repr(float(x))


absolute = st.tuples(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), numbers).map(
    lambda t: (f"{t[0]} {_num(t[1])}", Criterion(t[0], t[1], relative=False))
)
relative = st.tuples(
    st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), st.floats(min_value=0, max_value=1e4), st.sampled_from("+-")
).map(lambda t: (f"{t[0]} {t[2]}{_num(t[1])}%", Criterion(t[0], t[1] if t[2] == "+" else -t[1], relative=True)))
between = st.tuples(numbers, numbers).map(sorted).map(
    lambda t: (f"between {_num(t[0])} and {_num(t[1])}", Criterion("between", t[0], high=t[1]))
)
criterion_texts = st.lists(st.one_of(absolute, relative, between), min_size=1, max_size=4)


@given(criterion_texts, st.sampled_from([" and ", "  and  ", " AND "]))
def test_parse_round_trips_generated_criteria(parts, joiner):
    text = joiner.join(t for t, _ in parts)
    parsed = parse_criteria(text)
    assert parsed.text == text
    assert len(parsed.parts) == len(parts)
    for got, (part_text, want) in zip(parsed.parts, parts):
        assert (got.op, got.value, got.high, got.relative) == (want.op, want.value, want.high, want.relative)
        assert got.text == part_text
    # parsing the stored text again is stable
    assert parse_criteria(parsed.text) == parsed
    for part in parsed.parts:
        assert parse_criteria(part.text).parts == (part,)


@given(st.text(max_size=30))
def test_parse_never_raises_anything_but_value_error(text):
    try:
        parse_criteria(text)
    except ValueError:
        pass


@given(numbers, numbers, numbers)
def test_between_matches_its_two_comparisons(a, b, value):
    low, high = sorted((a, b))
    text = f"between {_num(low)} and {_num(high)}"
    both = f">= {_num(low)} and <= {_num(high)}"
    assert holds(text, value) is holds(both, value)


@given(
    st.floats(min_value=-1e6, max_value=1e6).filter(lambda x: abs(x) > 1e-6),
    st.floats(min_value=0, max_value=500),
    st.floats(min_value=-1e7, max_value=1e7),
)
def test_relative_upper_and_lower_bounds_are_complementary(baseline, percent, value):
    up = f"<= +{_num(percent)}%"
    above = f"> +{_num(percent)}%"
    assert holds(up, value, baseline) is not holds(above, value, baseline)
    # and the bound moves in the direction of the sign, whatever the baseline's sign
    assert holds(up, baseline, baseline) is True
    assert holds(f">= -{_num(percent)}%", baseline, baseline) is True


@given(st.floats(allow_nan=True, allow_infinity=True) | st.none())
def test_format_value_is_total_and_short(value):
    text = format_value(value)
    assert text and "\n" not in text
    assert len(text) <= 26
