"""The runner's per-sample path, made cheaper without changing what it does: the gateway's own
timer only where nothing else bounds a call, the concurrency limiter's lock-free fast path, and
the scorers' and prompt's models built by validation."""

import asyncio
import re
import sys
import time

import pytest

from assay.core import Message, ModelRequest, Output, ProviderError, Sample, Score
from assay.data import dataset_from_records
from assay.providers import OpenAICompatProvider
from assay.run import CallPolicy, Eval, Gateway, ModelSubject, PromptTemplate, RunOptions, run_async
from assay.run.limits import AdaptiveLimiter
from assay.score import exact, includes
from assay.score.normalise import Normalisation
from assay.store import Store
from assay.testing import MockOpenAIServer


@pytest.fixture
def store(tmp_path, new_store_db):
    s = Store(new_store_db(tmp_path / "assay.db"))
    yield s
    s.close()


def one_sample_eval(provider, policy):
    rows = [{"id": "q0", "input": "question 0", "target": "echo: question 0"}]
    return Eval(
        name="hot",
        dataset=dataset_from_records(rows, name="hot"),
        subjects=[ModelSubject("bot", provider=provider, model="mock")],
        scorers=[exact()],
        policy=policy,
    )


class Hanging:
    """A provider whose calls never return, whatever it claims about its own timeout."""

    name = "hanging"

    def __init__(self, enforced_timeout=None):
        if enforced_timeout is not None:
            self.enforced_timeout = enforced_timeout
        self.calls = 0

    async def generate(self, request):
        self.calls += 1
        await asyncio.Event().wait()

    async def aclose(self):
        return None


# -- the gateway's timer --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enforced", "timeout", "needed"),
    [
        (None, 120.0, True),  # nothing bounds the call
        (61.0, 120.0, False),  # the provider's own bound comes first
        (120.0, 120.0, False),
        (121.0, 120.0, True),  # the provider's bound is later than the policy's
        (0.0, 120.0, True),  # a zero bound is no bound
        ("60", 120.0, True),  # not a number: no promise
        (True, 120.0, True),
        (61.0, None, False),  # the policy sets no timeout at all
        (None, None, False),
    ],
)
def test_the_gateway_arms_its_timer_unless_the_call_is_bounded_sooner(enforced, timeout, needed):
    gw = Gateway("p", CallPolicy(timeout=timeout))
    assert gw.own_timer_needed(enforced) is needed


async def test_an_unbounded_call_that_hangs_times_out_at_the_policy_timeout():
    gw = Gateway("p", CallPolicy(max_retries=0, timeout=0.1))
    provider = Hanging()
    start = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        await gw.call(lambda: provider.generate(None), enforced_timeout=None)
    assert info.value.error_class == "timeout" and info.value.retryable
    assert "no response within 0.1 s" in str(info.value)
    assert time.perf_counter() - start < 5


async def test_a_bound_longer_than_the_policy_keeps_the_gateway_timer():
    gw = Gateway("p", CallPolicy(max_retries=0, timeout=0.1))
    provider = Hanging(enforced_timeout=30.0)
    with pytest.raises(ProviderError) as info:
        await gw.call(lambda: provider.generate(None), enforced_timeout=provider.enforced_timeout)
    assert info.value.error_class == "timeout"


@pytest.mark.parametrize("enforced", [None, 1.0])
async def test_a_timeout_error_let_out_by_the_call_is_a_retryable_timeout_either_way(enforced):
    gw = Gateway("p", CallPolicy(max_retries=1, backoff_base=0.001, timeout=5.0))
    calls = []

    async def raw_timeout():
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError
        return Output(text="ok")

    output, attempts = await gw.call(raw_timeout, enforced_timeout=enforced)
    assert output.text == "ok" and attempts == 2
    assert gw.stats.last_error == "timeout"


@pytest.mark.parametrize("declared", [None, 30.0])
async def test_the_runner_times_out_a_hanging_provider_at_the_policy_timeout(store, declared):
    """A provider that declares no bound, or one longer than the policy's timeout, still
    times out at the policy's timeout through the runner."""
    provider = Hanging(enforced_timeout=declared)
    policy = CallPolicy(max_retries=0, timeout=0.1)
    outcome = await asyncio.wait_for(
        run_async(one_sample_eval(provider, policy), db=store, options=RunOptions(cache=False)),
        20,
    )
    assert provider.calls == 1 and outcome.n_errors == 1
    assert outcome.error_classes == {"timeout": 1}
    (result,) = list(store.iter_results(outcome.run_id))
    assert result.error_class == "timeout" and "no response within 0.1 s" in result.error


class Instant:
    name = "instant"

    def __init__(self, enforced_timeout=None):
        if enforced_timeout is not None:
            self.enforced_timeout = enforced_timeout

    async def generate(self, request):
        return Output(text="echo: " + request.messages[-1].content)

    async def aclose(self):
        return None


@pytest.mark.parametrize(("declared", "timers"), [(None, 1), (77.0, 0), (78.0, 1)])
async def test_the_runner_hands_the_providers_bound_to_the_gateway(
    store, monkeypatch, declared, timers
):
    """Through the runner, a provider bounded within the policy's timeout gets no gateway
    timer; one without a bound, or with a longer one, gets one per call."""
    armed = []
    real = asyncio.timeout

    def counting(delay):
        if delay == 77.0:  # the policy's (the writer's flush interval is another timer)
            armed.append(delay)
        return real(delay)

    monkeypatch.setattr(asyncio, "timeout", counting)
    policy = CallPolicy(max_retries=0, timeout=77.0)
    outcome = await run_async(
        one_sample_eval(Instant(declared), policy), db=store, options=RunOptions(cache=False)
    )
    assert outcome.n_results == 1 and outcome.n_errors == 0
    assert len(armed) == timers


async def test_an_http_provider_bounds_its_calls_itself_so_the_gateway_leaves_it_to_it(store):
    """The gateway skips its timer for an HTTP provider whose total timeout (plus aiohttp's
    rounding) is within the policy's, and a hanging server still ends the call, at the
    provider's timeout."""
    async with MockOpenAIServer(faults={"hang": 1.0, "hang_s": 30}) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None, timeout=0.3)
        assert provider.enforced_timeout == pytest.approx(1.3)
        policy = CallPolicy(max_retries=0, timeout=10.0)
        assert not Gateway("p", policy).own_timer_needed(provider.enforced_timeout)
        start = time.perf_counter()
        outcome = await asyncio.wait_for(
            run_async(one_sample_eval(provider, policy), db=store, options=RunOptions(cache=False)),
            20,
        )
        elapsed = time.perf_counter() - start
    assert outcome.error_classes == {"timeout": 1}
    (result,) = list(store.iter_results(outcome.run_id))
    assert "request timed out after 0.3s" in result.error  # the provider's, not the gateway's
    assert elapsed < 8  # well before the policy's 10 s


async def test_an_http_provider_with_a_longer_timeout_is_cut_by_the_policy(store):
    async with MockOpenAIServer(faults={"hang": 1.0, "hang_s": 30}) as server:
        provider = OpenAICompatProvider(base_url=server.base_url, api_key_env=None, timeout=30)
        policy = CallPolicy(max_retries=0, timeout=0.3)
        outcome = await asyncio.wait_for(
            run_async(one_sample_eval(provider, policy), db=store, options=RunOptions(cache=False)),
            20,
        )
    (result,) = list(store.iter_results(outcome.run_id))
    assert result.error_class == "timeout" and "no response within 0.3 s" in result.error


def test_an_http_provider_promises_a_bound_only_when_it_has_one_and_makes_the_call_itself():
    provider = OpenAICompatProvider(base_url="http://127.0.0.1:9", api_key_env=None, timeout=60)
    assert provider.enforced_timeout == 61.0  # aiohttp rounds up to the next whole second
    assert (
        OpenAICompatProvider(base_url="http://x", api_key_env=None, timeout=0).enforced_timeout
        is None
    )

    class Wrapped(OpenAICompatProvider):
        async def generate(self, request: ModelRequest) -> Output:
            await asyncio.sleep(0)  # could wait on anything
            return await super().generate(request)

    assert Wrapped(base_url="http://x", api_key_env=None, timeout=60).enforced_timeout is None


async def test_the_bound_is_the_open_sessions_own_timeout():
    # A session keeps the timeout it was made with: changing the provider's afterwards must
    # not promise the new bound while the old session still serves the calls.
    provider = OpenAICompatProvider(base_url="http://127.0.0.1:9", api_key_env=None, timeout=60)
    provider._get_session()
    try:
        provider.timeout = 5
        assert provider.enforced_timeout == 61.0
        await provider.aclose()
        assert provider.enforced_timeout == 6.0  # the next session is made with 5 s
    finally:
        await provider.aclose()


# -- the concurrency limiter ----------------------------------------------------------------


async def test_limiter_serves_queued_calls_first_come_first_served():
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    order = []

    async def take(name):
        await limiter.acquire()
        order.append(name)

    first = asyncio.create_task(take("first"))
    second = asyncio.create_task(take("second"))
    await asyncio.sleep(0)
    assert limiter.in_flight == 1 and order == []
    await limiter.release(succeeded=True)
    # A newcomer arriving while calls are queued does not jump the queue.
    late = asyncio.create_task(take("late"))
    await asyncio.sleep(0.01)
    assert order == ["first"]
    await limiter.release(succeeded=True)
    await asyncio.sleep(0.01)
    assert order == ["first", "second"]
    await limiter.release(succeeded=True)
    await asyncio.gather(first, second, late)
    assert order == ["first", "second", "late"] and limiter.in_flight == 1


async def test_a_cancelled_waiter_takes_no_slot_and_blocks_no_one():
    limiter = AdaptiveLimiter(1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.in_flight == 1
    await limiter.release()
    assert limiter.in_flight == 0
    await asyncio.wait_for(limiter.acquire(), 1)  # the fast path again: nobody waits
    assert limiter.in_flight == 1


async def test_a_halved_limit_holds_new_calls_until_enough_have_finished():
    limiter = AdaptiveLimiter(4, cooldown=0.0)
    for _ in range(4):
        await limiter.acquire()
    await limiter.release(overloaded=True)  # 3 in flight, limit 2
    assert limiter.limit == 2.0 and limiter.in_flight == 3
    blocked = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.01)
    assert not blocked.done()
    await limiter.release()  # 2 in flight: still at the limit
    await asyncio.sleep(0.01)
    assert not blocked.done()
    await limiter.release()  # 1 in flight: room
    await asyncio.wait_for(blocked, 1)
    assert limiter.in_flight == 2


# -- models and normalisation on the scoring path -------------------------------------------


def test_whitespace_normalisation_is_the_regex_one_for_every_whitespace_character():
    spaces = re.compile(r"\s+")
    whitespace = [chr(c) for c in range(sys.maxunicode + 1) if spaces.fullmatch(chr(c))]
    normalise = Normalisation(ignore_case=False)
    texts = ["", " ", "a", "  a  b ", "a\u00a0\u2003b\n", "\u3000x\ty\r\n\x1c"]
    texts += [f"{w}a{w}{w}b{w}" for w in whitespace]
    for text in texts:
        assert normalise(text) == spaces.sub(" ", text).strip()


async def test_match_scores_are_what_model_construct_built():
    sample = Sample(id="s", input="q", target=("Paris", "paris, France"))
    for scorer, text in [(exact(), " PARIS "), (exact(), "Lyon"), (includes(), "in Paris!")]:
        score = await scorer.score(sample, Output(text=text))
        matched = score.value == 1.0
        expected = Score.model_construct(
            scorer=scorer.name,
            value=1.0 if matched else 0.0,
            answer=text,
            explanation="matched 'Paris'" if matched else None,
            error=None,
            metadata={},
        )
        assert type(score) is Score
        assert score.model_dump() == expected.model_dump()
        assert score.model_fields_set == expected.model_fields_set


def test_rendered_messages_are_what_model_construct_built():
    template = PromptTemplate(user="Q: {{ input }} ({{ level }})", system="Be {{ tone }}.")
    sample = Sample(id="s", input="2+2?", metadata={"level": 3, "tone": "brief"})
    messages = template.render(sample)
    assert messages == (
        Message.model_construct(role="system", content="Be brief."),
        Message.model_construct(role="user", content="Q: 2+2? (3)"),
    )
    assert all(m.model_fields_set == {"role", "content"} for m in messages)


# -- garbage collection during a run ----------------------------------------------------------


def test_a_run_collects_the_young_generation_less_often_and_puts_the_setting_back():
    import gc

    from assay.run.runner import RUN_GC_THRESHOLD, fewer_young_collections

    old = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with fewer_young_collections():
            assert gc.get_threshold() == (RUN_GC_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (700, 10, 10)
        # A higher setting of the caller's, or a disabled collector, is left alone.
        gc.set_threshold(50_000, 5, 5)
        with fewer_young_collections():
            assert gc.get_threshold() == (50_000, 5, 5)
        gc.set_threshold(0)
        with fewer_young_collections():
            assert gc.get_threshold()[0] == 0
        # A setting changed inside the block is not overwritten on the way out.
        gc.set_threshold(700, 10, 10)
        with fewer_young_collections():
            gc.set_threshold(2000, 10, 10)
        assert gc.get_threshold() == (2000, 10, 10)
    finally:
        gc.set_threshold(*old)


async def test_the_runner_raises_the_threshold_only_while_it_runs(store):
    import gc

    from assay.run.runner import RUN_GC_THRESHOLD

    seen: list[int] = []

    class Probe:
        name = "probe"

        async def generate(self, request: ModelRequest) -> Output:
            seen.append(gc.get_threshold()[0])
            return Output(text="4", model="probe")

    old = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        ev = Eval(
            name="gc",
            dataset=dataset_from_records([{"id": "a", "input": "2+2", "target": "4"}], name="d"),
            subjects=[ModelSubject("s", provider=Probe(), model="probe")],
            scorers=[exact()],
        )
        outcome = await run_async(ev, db=store, options=RunOptions(cache=False))
        assert outcome.n_results == 1
        assert seen == [RUN_GC_THRESHOLD] and gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*old)


# -- unvalidated construction of the run's own models ----------------------------------------


def test_construct_checked_builds_what_model_construct_builds():
    from assay.core import ModelRequest, Output, SampleResult
    from assay.core.construct import construct_checked

    output = Output(text="4", model="m", latency_ms=1.0)
    result_values = {
        "subject": "bot",
        "sample_id": "q1",
        "epoch": 2,
        "output": output,
        "scores": [Score(scorer="exact", value=1.0)],
        "error": None,
        "error_class": None,
        "attempts": 3,
        "cached": False,
    }
    request_values = {
        "model": "m",
        "messages": (Message(role="user", content="hi"),),
        "params": {"temperature": 0},
        "epoch": 0,
        "seed": None,
        "context": {"sample_id": "q1"},
    }
    for cls, values in ((SampleResult, result_values), (ModelRequest, request_values)):
        built = construct_checked(cls, dict(values))
        expected = cls.model_construct(**values)
        assert type(built) is cls
        assert built == expected
        assert list(built.__dict__) == list(expected.__dict__)  # field order
        assert repr(built) == repr(expected)
        assert built.model_fields_set == expected.model_fields_set
        assert built.model_dump() == expected.model_dump()
        assert built.__pydantic_extra__ is None and built.__pydantic_private__ is None
        for name, value in values.items():
            assert getattr(built, name) is value  # used as given, not copied


def test_construct_checked_refuses_a_missing_or_unknown_field():
    from assay.core import SampleResult
    from assay.core.construct import construct_checked

    with pytest.raises(TypeError, match=r"missing \['attempts', 'cached'.*not fields \[\]"):
        construct_checked(SampleResult, {"subject": "bot", "sample_id": "q1"})
    values = {name: None for name in SampleResult.model_fields} | {"colour": "red"}
    with pytest.raises(TypeError, match=r"not fields \['colour'\]"):
        construct_checked(SampleResult, values)


def test_construct_checked_refuses_models_it_cannot_build_like_model_construct():
    from pydantic import BaseModel, ConfigDict, PrivateAttr

    from assay.core.construct import construct_checked

    class Extra(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int

    class Private(BaseModel):
        a: int
        _b: int = PrivateAttr(default=0)

    class PostInit(BaseModel):
        a: int

        def model_post_init(self, context: object) -> None:
            pass

    for cls in (Extra, Private, PostInit):
        with pytest.raises(TypeError, match=cls.__name__):
            construct_checked(cls, {"a": 1})


@pytest.mark.parametrize(
    "user",
    ["{{ input }}", "{{input}}", "{{  input\t}}", " {{ input }}", "{{ input }}\n", "{{ input }}!"],
)
def test_the_bare_input_template_renders_as_the_substitution_does(user):
    from assay.run.prompt import _VAR

    for sample in (
        Sample(id="a", input="2+2? {{ not_a_var }} \\1 {x}"),
        Sample(id="b", input=""),
        Sample(id="c", input=[{"role": "user", "content": "hi"}]),
    ):
        template = PromptTemplate(user=user, system="{{ input }}")
        text = sample.input_text
        by_regex = _VAR.sub(lambda m, text=text: text, user)
        rendered = template.render(sample)
        assert rendered[0] == Message(role="system", content=sample.input_text)
        if isinstance(sample.input, str):
            assert rendered[1] == Message(role="user", content=by_regex)


async def test_the_hot_path_builds_its_models_with_fields_in_declared_order(store, monkeypatch):
    """construct_checked keeps the caller's dict as the instance's: every call site passes the
    fields in declared order, as model_construct would set them (repr shows that order)."""
    from assay.providers._http import HttpReply

    def in_order(model: object) -> bool:
        return list(model.__dict__) == list(type(model).model_fields)

    sample = Sample(id="q1", input="2+2?", target="4")
    provider = OpenAICompatProvider(base_url="http://127.0.0.1:9", api_key_env=None)
    request = ModelSubject("bot", provider=provider, model="m").request(sample, epoch=0)
    body = '{"model": "m", "choices": [{"message": {"content": "4"}}], "usage": {}}'
    output = provider._parse(HttpReply(200, body, {}, 1.0))
    score = await exact().score(sample, output)
    assert all(in_order(m) for m in (request, output, output.usage, score))

    stored = []
    add_results = store.add_results

    def recording(run_id, results, **kwargs):
        stored.extend(results)
        return add_results(run_id, results, **kwargs)

    monkeypatch.setattr(store, "add_results", recording)
    async with MockOpenAIServer() as server:
        subject = ModelSubject(
            "bot",
            provider=OpenAICompatProvider(base_url=server.base_url, api_key_env=None),
            model="m",
        )
        ev = Eval(
            name="order",
            dataset=dataset_from_records([{"id": "q1", "input": "hi"}], name="d"),
            subjects=[subject],
            scorers=[exact()],
        )
        outcome = await run_async(ev, db=store, options=RunOptions(cache=False))
    assert outcome.n_results == 1 and len(stored) == 1
    assert in_order(stored[0]) and in_order(stored[0].output)
