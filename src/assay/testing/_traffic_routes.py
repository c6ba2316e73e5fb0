"""The routes of the simulated app: what each request does, span by span.

``support-qa`` and ``rag-search`` (:func:`answer`) retrieve and answer, ``json-extract``
(:func:`extract`) must answer JSON, ``agent-orders`` (:func:`agent`) runs an agent that calls
order tools and, in a session the ``agent_loop`` incident picked, loops until its step limit.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span

from assay.testing import _traffic_content as C
from assay.testing._traffic_conventions import LLMCall, Message, Retrieved, dumps
from assay.testing._traffic_spans import MS, SessionState, Turn, ms, tokens_of
from assay.testing._traffic_world import (
    EMBEDDING_MODEL,
    EMBEDDING_VERSION,
    INDEX_NAME,
    INDEX_VERSION,
    fake_email,
    fake_phone,
    search,
    token,
)

if TYPE_CHECKING:
    from assay.testing._traffic_app import TrafficApp

PROVIDER = "sim"
AGENT_NAME = "orders-agent"
MAX_AGENT_STEPS = 40
#: Median answer length in tokens, ``max_tokens`` and prompt version per route.
ANSWER_TOKENS = {"support-qa": 130.0, "rag-search": 170.0, "agent-orders": 45.0}
MAX_TOKENS = {"support-qa": 512, "rag-search": 600, "agent-orders": 300, "json-extract": 256}
PROMPT_VERSIONS = {"support-qa": "support-v7", "rag-search": "rag-v2", "agent-orders": "agent-v5"}
TOOL_LATENCY_MS = {
    "lookup_customer": 60.0,
    "lookup_order": 80.0,
    "create_order": 350.0,
    "cancel_order": 250.0,
    "update_address": 150.0,
}


def retrieve(
    app: TrafficApp, ctx: Turn, parent: Span, query: str, topic: str, k: int
) -> list[Retrieved]:
    """(Embed the query, on rag-search,) then search the knowledge base: ``k`` chunks with
    ranks, scores and versions, or none when the vector store times out (the trace fails)."""
    rng, conv = app.rng, ctx.conv
    if ctx.plan.route == "rag-search":
        tokens = tokens_of(query)
        name, kind, attrs = conv.embedding(PROVIDER, EMBEDDING_MODEL, query, tokens)
        span = ctx.emitter.open("embedding", name, kind, attrs, ctx.clock, parent)
        ctx.clock += ms(rng, 25.0, 0.4)
        ctx.emitter.close(span, "embedding", ctx.clock)
        ctx.truth.input_tokens += tokens
    ranked = search(rng, app.kb, topic, k)
    docs = [
        Retrieved(
            c.document_id,
            c.chunk_id,
            rank,
            score,
            c.text,
            c.version,
            INDEX_VERSION,
            EMBEDDING_VERSION,
        )
        for rank, (c, score) in enumerate(ranked, start=1)
    ]
    for chunk, _ in ranked:
        for pii_kind, value in chunk.pii:
            ctx.emitter.plant(pii_kind, value, "retrieval")
    name, kind, attrs = conv.retrieval(INDEX_NAME, query, docs)
    span = ctx.emitter.open("retrieval", name, kind, attrs, ctx.clock, parent)
    latency = ms(rng, 45.0, 0.5)
    error = None
    if rng.random() < app.cfg.error_rate / 5:
        error, latency = "VectorStoreTimeout: the vector store did not answer", 5000 * MS
    ctx.clock += latency
    ctx.emitter.close(span, "retrieval", ctx.clock, None, error)
    if error:
        ctx.error, ctx.failure = error, "error"
        return []
    return docs


def answer(
    app: TrafficApp, ctx: Turn, model: str, state: SessionState, retrieval_share: float
) -> None:
    """support-qa and rag-search: (retrieve,) then answer."""
    rng, route, user = app.rng, ctx.plan.route, ctx.user
    system = C.SYSTEM_PROMPTS[route]
    if user.expected == C.ANSWER and rng.random() < retrieval_share:
        docs = retrieve(
            app, ctx, ctx.root, user.text, user.intent, 5 if route == "rag-search" else 3
        )
        if ctx.error:
            return
        system += "\n\nContext:\n" + "\n".join(f"[{d.chunk_id}] {d.content}" for d in docs)
    backend = app.backend(model, ctx.clock)
    correct = app.correct(backend, ctx, user.text)
    content = C.answer_text(rng, user.intent, user.expected, correct)
    if user.expected == C.ANSWER and correct and rng.random() < app.cfg.pii_share / 2:
        contact = fake_email(rng)  # the model names a colleague's address: output PII
        ctx.emitter.plant("email", contact, "output")
        content += f" I've escalated this to {contact}, who will reply within a day."
    messages = [{"role": "system", "content": system}, *state.history[-8:]]
    messages.append({"role": "user", "content": user.text})
    call = app.llm(
        ctx,
        ctx.root,
        model=model,
        messages=messages,
        content=content,
        median_tokens=ANSWER_TOKENS[route],
        prompt_version=PROMPT_VERSIONS[route],
        correct=correct,
    )
    finish(app, ctx, call, correct)


def finish(app: TrafficApp, ctx: Turn, call: LLMCall, correct: bool) -> None:
    """Record the answer of the final call, or why the request failed."""
    if call.error_type is not None:
        ctx.error, ctx.failure = f"{call.error_type}: the model call failed", "error"
        return
    assert call.output is not None
    ctx.answer = call.output["content"]
    if call.finish_reason == "length":
        ctx.failure = "truncated"
    app.judge_failure(ctx, correct)


def extract(app: TrafficApp, ctx: Turn, model: str) -> None:
    """json-extract: one call that must answer JSON; the prompt change breaks it."""
    rng, user = app.rng, ctx.user
    incident = app.incident("json_break", "json-extract", ctx.clock)
    version = "extract-v4" if incident else "extract-v3"
    backend = app.backend(model, ctx.clock)
    correct = app.correct(backend, ctx, user.intent + str(sorted(user.fields)))
    fields = user.fields if correct else C.wrong_fields(rng, user.fields)
    text = json.dumps(fields, ensure_ascii=False)
    broken = (incident is not None and rng.random() < 0.8) or rng.random() < 0.003
    if broken:
        style = rng.randrange(3)
        if style == 0:
            text = "Here is the extracted data:\n```json\n" + json.dumps(fields, indent=2) + "\n```"
        elif style == 1:
            text = text[:-1] + ", }"
        else:
            text = "Sure! " + repr(fields)
    messages = [
        {"role": "system", "content": C.EXTRACT_PROMPTS[version]},
        {"role": "user", "content": user.text},
    ]
    call = app.llm(
        ctx,
        ctx.root,
        model=model,
        messages=messages,
        content=text,
        temperature=0.0,
        output_type="json",
        prompt_version=version,
        correct=correct,
    )
    if call.error_type is not None:
        ctx.error, ctx.failure = f"{call.error_type}: the model call failed", "error"
        return
    assert call.output is not None
    ctx.answer = call.output["content"]
    try:
        json.loads(ctx.answer)
    except json.JSONDecodeError:
        ctx.failure = "json_invalid"
        if incident is not None and broken:
            incident.truth.affected_trace_ids.append(ctx.truth.trace_id)
            ctx.truth.incidents.append("json_break")
    app.judge_failure(ctx, correct)


def agent(app: TrafficApp, ctx: Turn, model: str, state: SessionState) -> None:
    """agent-orders: an agent span, tool-calling LLM steps and tool spans, a final answer."""
    rng, user, conv = app.rng, ctx.user, ctx.conv
    name, kind, attrs = conv.agent(AGENT_NAME, PROVIDER, model, ctx.plan.id, user.text)
    agent_span = ctx.emitter.open("agent", name, kind, attrs, ctx.clock, ctx.root)
    ctx.clock += ms(rng, 2.0)
    backend = app.backend(model, ctx.clock)
    correct = app.correct(backend, ctx, user.text)
    messages: list[Message] = [{"role": "system", "content": C.SYSTEM_PROMPTS["agent-orders"]}]
    # A normal run keeps a short window of history; the looping session keeps everything.
    messages += state.history if ctx.plan.loop else state.history[-6:]
    messages.append({"role": "user", "content": user.text})
    order = user.fields.get("order") or f"ORD-{rng.randrange(100000, 999999)}"
    if ctx.plan.loop:
        steps = _loop_steps(app, ctx, state)
    else:
        steps = [list(s) for s in C.AGENT_PLANS[user.intent]]
    profile_pii = user.intent == "create_order" and rng.random() < app.cfg.pii_share * 3
    for tools in steps[:MAX_AGENT_STEPS]:
        calls = [
            {
                "id": "call_" + token(rng, 24),
                "name": t,
                "arguments": _tool_args(app, t, ctx, state, order),
            }
            for t in tools
        ]
        call = app.llm(
            ctx,
            agent_span,
            model=model,
            messages=messages,
            tool_calls=calls,
            content=None,
            prompt_version=PROMPT_VERSIONS["agent-orders"],
        )
        if call.error_type is not None:
            ctx.error, ctx.failure = f"{call.error_type}: the model call failed", "error"
            break
        assert call.output is not None
        messages = [*messages, call.output]
        for c in calls:
            result = _run_tool(app, ctx, agent_span, c, state, profile_pii)
            messages = [
                *messages,
                {"role": "tool", "tool_call_id": c["id"], "content": dumps(result)},
            ]
            if c["name"] == "create_order" and "order_id" in result:
                order = result["order_id"]
    if ctx.plan.loop:
        ctx.failure = "agent_loop"
        if ctx.error is None:
            ctx.error = f"MaxIterationsExceeded: the agent stopped after {MAX_AGENT_STEPS} steps"
    if ctx.error is not None:
        ctx.emitter.close(agent_span, "agent", ctx.clock, None, ctx.error)
        return
    if user.intent in C.AGENT_ANSWERS:
        good, bad = C.AGENT_ANSWERS[user.intent]
        content = (good if correct else bad).format(order=order)
    else:
        content = C.answer_text(rng, user.intent, user.expected, correct)
    call = app.llm(
        ctx,
        agent_span,
        model=model,
        messages=messages,
        content=content,
        median_tokens=ANSWER_TOKENS["agent-orders"],
        prompt_version=PROMPT_VERSIONS["agent-orders"],
        correct=correct,
    )
    finish(app, ctx, call, correct)
    ctx.emitter.close(agent_span, "agent", ctx.clock, conv.agent_output(ctx.answer), ctx.error)


def _loop_steps(app: TrafficApp, ctx: Turn, state: SessionState) -> list[list[str]]:
    """The runaway loop: the same lookup again and again, and the same order created twice
    under one idempotency key, until the step limit stops the agent."""
    incident = app.incident("agent_loop", "agent-orders", ctx.clock)
    if incident is not None:
        incident.truth.affected_trace_ids.append(ctx.truth.trace_id)
        ctx.truth.incidents.append("agent_loop")
    steps: list[list[str]] = []
    if state.idempotency_key is None:
        state.idempotency_key = "idem_" + token(app.rng, 20)
        steps += [["lookup_customer"], ["create_order"]]
        if incident is not None:
            incident.truth.details.setdefault("idempotency_key", state.idempotency_key)
            incident.truth.details.setdefault("session_id", ctx.plan.id)
    while len(steps) < MAX_AGENT_STEPS:
        steps.append(["lookup_order"])
        if len(steps) == 14:
            steps.append(["create_order"])  # the duplicate, same idempotency key
    return steps


def _tool_args(
    app: TrafficApp, tool: str, ctx: Turn, state: SessionState, order: str
) -> dict[str, Any]:
    """The arguments the agent passes to ``tool``: the user's card and email go into an order,
    as does the email a customer lookup returned (personal data in tool arguments)."""
    rng, user = app.rng, ctx.user
    if tool == "lookup_customer":
        return {"account_id": "acct_" + ctx.plan.user.id[2:10]}
    if tool == "lookup_order":
        return {"order_id": state.orders[-1] if ctx.plan.loop and state.orders else order}
    if tool == "create_order":
        key = state.idempotency_key if ctx.plan.loop else "idem_" + token(rng, 20)
        args: dict[str, Any] = {
            "sku": user.fields.get("sku", "headsets"),
            "quantity": int(user.fields.get("qty", "1")),
            "idempotency_key": key,
        }
        for kind, value in user.pii:
            if kind == "card":
                args["payment_card"] = value
            elif kind == "email":
                args["contact_email"] = value
        for kind, value, seam in ctx.emitter.candidates:
            if seam == "tool_result" and kind == "email":
                args.setdefault("contact_email", value)
        return args
    if tool == "cancel_order":
        return {
            "order_id": order,
            "idempotency_key": "idem_" + token(rng, 20),
            "reason": "customer_request",
        }
    return {"order_id": order, "address": user.fields.get("street", "1 Elm Street")}


def _run_tool(
    app: TrafficApp,
    ctx: Turn,
    parent: Span,
    call: dict[str, Any],
    state: SessionState,
    profile_pii: bool,
) -> dict[str, Any]:
    """Execute a tool call as a tool span (lookups fail now and then, creations are slow) and
    return its result."""
    rng, name, args = app.rng, call["name"], call["arguments"]
    error = None
    if name == "lookup_customer":
        result: dict[str, Any] = {
            "customer_id": "C-" + token(rng, 6),
            "segment": ctx.plan.user.segment,
        }
        if profile_pii:
            email, phone = fake_email(rng), fake_phone(rng)
            ctx.emitter.plant("email", email, "tool_result")
            ctx.emitter.plant("phone", phone, "tool_result")
            result.update({"email": email, "phone": phone})
    elif name == "lookup_order":
        if not ctx.plan.loop and rng.random() < 0.04:
            error, result = "OrderNotFound: no such order", {"error": "order not found"}
        else:
            status = rng.choice(("processing", "shipped", "out_for_delivery"))
            result = {
                "order_id": args["order_id"],
                "status": status,
                "eta_days": rng.randrange(1, 6),
            }
    elif name == "create_order":
        order = f"ORD-{rng.randrange(100000, 999999)}"
        state.orders.append(order)
        total = round(args["quantity"] * rng.uniform(9.0, 60.0), 2)
        result = {"order_id": order, "status": "created", "total": total}
        if ctx.plan.loop:
            app.loop_orders.append((ctx.plan.id, order, total, args["idempotency_key"]))
    elif name == "cancel_order":
        result = {
            "order_id": args["order_id"],
            "status": "cancelled",
            "refund": round(rng.uniform(9.0, 200.0), 2),
        }
    else:
        result = {"order_id": args["order_id"], "status": "updated"}
    span_name, kind, attrs = ctx.conv.tool(
        name, call["id"], args, result, error.split(":")[0] if error else None
    )
    span = ctx.emitter.open("tool", span_name, kind, attrs, ctx.clock, parent)
    ctx.truth.n_tool_calls += 1
    latency = ms(rng, TOOL_LATENCY_MS[name], 0.6)
    if rng.random() < 0.02:
        latency += int(min(20_000.0, 400.0 * rng.paretovariate(1.3)) * MS)
    ctx.clock += latency
    ctx.emitter.close(span, "tool", ctx.clock, None, error)
    return result
