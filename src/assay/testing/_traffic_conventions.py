"""Span names, kinds and attributes of the simulated app in two conventions.

* :class:`GenAIConvention` follows the OpenTelemetry GenAI semantic conventions
  (``gen_ai.*``; messages as the JSON ``parts`` structure of ``gen_ai.input.messages`` /
  ``gen_ai.output.messages``, span names ``{operation} {model or tool}``), as
  ``opentelemetry-util-genai`` and ``opentelemetry-instrumentation-openai-v2`` emit them.
* :class:`OpenInferenceConvention` follows OpenInference (``openinference.span.kind``,
  ``llm.*`` with flattened ``llm.input_messages.N.message.*``, ``input.value`` /
  ``output.value``, ``retrieval.documents.N.document.*``, ``tool.*``), as
  ``openinference-instrumentation-openai`` emits them.

Attribute names come from ``opentelemetry-semantic-conventions`` and
``openinference-semantic-conventions``. A few facts no convention names yet are ``app.*``
attributes (route, segment, locale, intent, actor, prompt version, idempotency key); a
retrieved document's chunk id and versions sit in its metadata (``chunk_id``, ``rank``,
``document_version``, ``index_version``, ``embedding_version``) in both conventions.

Messages inside the simulator are dicts ``{"role", "content", "tool_calls": [{"id", "name",
"arguments"}], "tool_call_id"}``; each convention serialises them its own way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from openinference.semconv.trace import (
    DocumentAttributes,
    MessageAttributes,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    SpanAttributes,
    ToolCallAttributes,
)
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as GenAI
from opentelemetry.semconv._incubating.attributes.geo_attributes import (
    GEO_CONTINENT_CODE,
    GEO_COUNTRY_ISO_CODE,
)
from opentelemetry.semconv._incubating.attributes.openai_attributes import (
    OPENAI_RESPONSE_SYSTEM_FINGERPRINT,
)
from opentelemetry.semconv._incubating.attributes.session_attributes import SESSION_ID
from opentelemetry.semconv._incubating.attributes.user_attributes import USER_ID
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind

Attributes = dict[str, Any]
Message = dict[str, Any]

#: ``gen_ai.retrieval.top_k``, as opentelemetry-util-genai names it (no constant published yet).
GEN_AI_RETRIEVAL_TOP_K = "gen_ai.retrieval.top_k"
IDEMPOTENCY_KEY = "app.idempotency_key"
EVALUATION_EVENT = "gen_ai.evaluation.result"
_JSON = OpenInferenceMimeTypeValues.JSON.value
_TEXT = OpenInferenceMimeTypeValues.TEXT.value


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII kept as is (what the instrumentations send)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class LLMCall:
    """One chat call as the app saw it; the ``response_*``, token and output fields are
    ``None`` when the call failed (``error_type`` set)."""

    provider: str
    request_model: str
    messages: list[Message]
    max_tokens: int
    temperature: float
    output_type: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    fingerprint: str | None = None
    output: Message | None = None
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_type: str | None = None


@dataclass(slots=True)
class Retrieved:
    """One retrieved chunk as a span reports it."""

    document_id: str
    chunk_id: str
    rank: int
    score: float
    content: str
    document_version: str
    index_version: str
    embedding_version: str

    def metadata(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "rank": self.rank,
            "document_version": self.document_version,
            "index_version": self.index_version,
            "embedding_version": self.embedding_version,
        }


def identity(session_id: str, user_id: str) -> Attributes:
    """The session and user every span of a trace carries."""
    return {SESSION_ID: session_id, USER_ID: user_id}


def app_attributes(
    route: str, segment: str, locale: str, intent: str, actor: str, country: str, continent: str
) -> Attributes:
    """What the app knows about the request, on its root span (for stratified sampling)."""
    return {
        "app.route": route,
        "app.segment": segment,
        "app.locale": locale,
        "app.intent": intent,
        "app.actor": actor,
        GEO_COUNTRY_ISO_CODE: country,
        GEO_CONTINENT_CODE: continent,
    }


class GenAIConvention:
    """The OpenTelemetry GenAI semantic conventions."""

    name = "genai"

    @staticmethod
    def _messages(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(system instructions, input messages) in the GenAI ``parts`` structure."""
        system: list[dict[str, Any]] = []
        out: list[dict[str, Any]] = []
        for m in messages:
            if m["role"] == "system":
                system.append({"type": "text", "content": m["content"]})
            elif m["role"] == "tool":
                part = {"type": "tool_call_response", "id": m["tool_call_id"]}
                out.append({"role": "tool", "parts": [{**part, "response": m["content"]}]})
            else:
                out.append({"role": m["role"], "parts": GenAIConvention._parts(m)})
        return system, out

    @staticmethod
    def _parts(m: Message) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if m.get("content"):
            parts.append({"type": "text", "content": m["content"]})
        for call in m.get("tool_calls") or ():
            parts.append(
                {
                    "type": "tool_call",
                    "id": call["id"],
                    "name": call["name"],
                    "arguments": call["arguments"],
                }
            )
        return parts

    def root(
        self, route: str, conversation_id: str, user_text: str
    ) -> tuple[str, SpanKind, Attributes]:
        return (
            f"invoke_workflow {route}",
            SpanKind.SERVER,
            {
                GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.INVOKE_WORKFLOW.value,
                GenAI.GEN_AI_WORKFLOW_NAME: route,
                GenAI.GEN_AI_CONVERSATION_ID: conversation_id,
                GenAI.GEN_AI_INPUT_MESSAGES: dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": user_text}]}]
                ),
            },
        )

    def root_output(self, answer: str | None) -> Attributes:
        if answer is None:
            return {}
        message = {"role": "assistant", "parts": [{"type": "text", "content": answer}]}
        return {GenAI.GEN_AI_OUTPUT_MESSAGES: dumps([message])}

    def agent(
        self, agent: str, provider: str, model: str, conversation_id: str, user_text: str
    ) -> tuple[str, SpanKind, Attributes]:
        return (
            f"invoke_agent {agent}",
            SpanKind.INTERNAL,
            {
                GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.INVOKE_AGENT.value,
                GenAI.GEN_AI_AGENT_NAME: agent,
                GenAI.GEN_AI_PROVIDER_NAME: provider,
                GenAI.GEN_AI_REQUEST_MODEL: model,
                GenAI.GEN_AI_CONVERSATION_ID: conversation_id,
            },
        )

    def agent_output(self, answer: str | None) -> Attributes:
        return self.root_output(answer)

    def llm(self, call: LLMCall, conversation_id: str) -> tuple[str, SpanKind, Attributes]:
        system, messages = self._messages(call.messages)
        attrs: Attributes = {
            GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.CHAT.value,
            GenAI.GEN_AI_PROVIDER_NAME: call.provider,
            GenAI.GEN_AI_SYSTEM: call.provider,
            GenAI.GEN_AI_REQUEST_MODEL: call.request_model,
            GenAI.GEN_AI_REQUEST_MAX_TOKENS: call.max_tokens,
            GenAI.GEN_AI_REQUEST_TEMPERATURE: call.temperature,
            GenAI.GEN_AI_CONVERSATION_ID: conversation_id,
            GenAI.GEN_AI_INPUT_MESSAGES: dumps(messages),
        }
        if system:
            attrs[GenAI.GEN_AI_SYSTEM_INSTRUCTIONS] = dumps(system)
        if call.output_type:
            attrs[GenAI.GEN_AI_OUTPUT_TYPE] = call.output_type
        if call.error_type is not None:
            attrs[ERROR_TYPE] = call.error_type
        else:
            assert call.output is not None and call.finish_reason is not None
            output = {
                "role": "assistant",
                "parts": self._parts(call.output),
                "finish_reason": call.finish_reason,
            }
            attrs.update(
                {
                    GenAI.GEN_AI_RESPONSE_MODEL: call.response_model,
                    GenAI.GEN_AI_RESPONSE_ID: call.response_id,
                    GenAI.GEN_AI_RESPONSE_FINISH_REASONS: (call.finish_reason,),
                    GenAI.GEN_AI_USAGE_INPUT_TOKENS: call.input_tokens,
                    GenAI.GEN_AI_USAGE_OUTPUT_TOKENS: call.output_tokens,
                    GenAI.GEN_AI_OUTPUT_MESSAGES: dumps([output]),
                    OPENAI_RESPONSE_SYSTEM_FINGERPRINT: call.fingerprint,
                }
            )
        return f"chat {call.request_model}", SpanKind.CLIENT, attrs

    def tool(
        self,
        name: str,
        call_id: str,
        arguments: dict[str, Any],
        result: Any,
        error_type: str | None,
    ) -> tuple[str, SpanKind, Attributes]:
        attrs: Attributes = {
            GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.EXECUTE_TOOL.value,
            GenAI.GEN_AI_TOOL_NAME: name,
            GenAI.GEN_AI_TOOL_CALL_ID: call_id,
            GenAI.GEN_AI_TOOL_TYPE: "function",
            GenAI.GEN_AI_TOOL_CALL_ARGUMENTS: dumps(arguments),
            GenAI.GEN_AI_TOOL_CALL_RESULT: dumps(result),
        }
        if "idempotency_key" in arguments:
            attrs[IDEMPOTENCY_KEY] = arguments["idempotency_key"]
        if error_type is not None:
            attrs[ERROR_TYPE] = error_type
        return f"execute_tool {name}", SpanKind.INTERNAL, attrs

    def retrieval(
        self, data_source: str, query: str, documents: list[Retrieved]
    ) -> tuple[str, SpanKind, Attributes]:
        docs = [
            {"id": d.document_id, "score": d.score, "content": d.content, "metadata": d.metadata()}
            for d in documents
        ]
        return (
            f"retrieval {data_source}",
            SpanKind.CLIENT,
            {
                GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.RETRIEVAL.value,
                GenAI.GEN_AI_DATA_SOURCE_ID: data_source,
                GenAI.GEN_AI_RETRIEVAL_QUERY_TEXT: query,
                GEN_AI_RETRIEVAL_TOP_K: len(documents),
                GenAI.GEN_AI_RETRIEVAL_DOCUMENTS: dumps(docs),
            },
        )

    def embedding(
        self, provider: str, model: str, text: str, tokens: int
    ) -> tuple[str, SpanKind, Attributes]:
        return (
            f"embeddings {model}",
            SpanKind.CLIENT,
            {
                GenAI.GEN_AI_OPERATION_NAME: GenAI.GenAiOperationNameValues.EMBEDDINGS.value,
                GenAI.GEN_AI_PROVIDER_NAME: provider,
                GenAI.GEN_AI_REQUEST_MODEL: model,
                GenAI.GEN_AI_RESPONSE_MODEL: model,
                GenAI.GEN_AI_USAGE_INPUT_TOKENS: tokens,
            },
        )

    def evaluation(
        self, name: str, score: float, label: str, explanation: str, response_id: str | None
    ) -> Attributes:
        """Attributes of a ``gen_ai.evaluation.result`` span event."""
        attrs: Attributes = {
            GenAI.GEN_AI_EVALUATION_NAME: name,
            GenAI.GEN_AI_EVALUATION_SCORE_VALUE: score,
            GenAI.GEN_AI_EVALUATION_SCORE_LABEL: label,
            GenAI.GEN_AI_EVALUATION_EXPLANATION: explanation,
        }
        if response_id:
            attrs[GenAI.GEN_AI_RESPONSE_ID] = response_id
        return attrs


_KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND


class OpenInferenceConvention:
    """The OpenInference conventions (Arize Phoenix)."""

    name = "openinference"

    @staticmethod
    def _flatten(prefix: str, messages: list[Message], attrs: Attributes) -> None:
        for i, m in enumerate(messages):
            p = f"{prefix}.{i}."
            attrs[p + MessageAttributes.MESSAGE_ROLE] = m["role"]
            if m.get("content") is not None:
                attrs[p + MessageAttributes.MESSAGE_CONTENT] = m["content"]
            if m.get("tool_call_id"):
                attrs[p + MessageAttributes.MESSAGE_TOOL_CALL_ID] = m["tool_call_id"]
            for j, call in enumerate(m.get("tool_calls") or ()):
                q = f"{p}{MessageAttributes.MESSAGE_TOOL_CALLS}.{j}."
                attrs[q + ToolCallAttributes.TOOL_CALL_ID] = call["id"]
                attrs[q + ToolCallAttributes.TOOL_CALL_FUNCTION_NAME] = call["name"]
                attrs[q + ToolCallAttributes.TOOL_CALL_FUNCTION_ARGUMENTS_JSON] = dumps(
                    call["arguments"]
                )

    @staticmethod
    def _openai_message(m: Message) -> dict[str, Any]:
        """A message as the OpenAI chat API writes it (OpenInference's ``input.value``)."""
        out: dict[str, Any] = {"role": m["role"], "content": m.get("content")}
        if m.get("tool_calls"):
            out["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": dumps(c["arguments"])},
                }
                for c in m["tool_calls"]
            ]
        if m.get("tool_call_id"):
            out["tool_call_id"] = m["tool_call_id"]
        return out

    def root(
        self, route: str, conversation_id: str, user_text: str
    ) -> tuple[str, SpanKind, Attributes]:
        return (
            route,
            SpanKind.SERVER,
            {
                _KIND: OpenInferenceSpanKindValues.CHAIN.value,
                SpanAttributes.INPUT_VALUE: user_text,
                SpanAttributes.INPUT_MIME_TYPE: _TEXT,
            },
        )

    def root_output(self, answer: str | None) -> Attributes:
        if answer is None:
            return {}
        return {SpanAttributes.OUTPUT_VALUE: answer, SpanAttributes.OUTPUT_MIME_TYPE: _TEXT}

    def agent(
        self, agent: str, provider: str, model: str, conversation_id: str, user_text: str
    ) -> tuple[str, SpanKind, Attributes]:
        return (
            agent,
            SpanKind.INTERNAL,
            {
                _KIND: OpenInferenceSpanKindValues.AGENT.value,
                SpanAttributes.AGENT_NAME: agent,
                SpanAttributes.INPUT_VALUE: user_text,
                SpanAttributes.INPUT_MIME_TYPE: _TEXT,
            },
        )

    def agent_output(self, answer: str | None) -> Attributes:
        return self.root_output(answer)

    def llm(self, call: LLMCall, conversation_id: str) -> tuple[str, SpanKind, Attributes]:
        params = {"model": call.request_model, "max_tokens": call.max_tokens}
        params["temperature"] = call.temperature
        if call.output_type == "json":
            params["response_format"] = {"type": "json_object"}
        request = {**params, "messages": [self._openai_message(m) for m in call.messages]}
        attrs: Attributes = {
            _KIND: OpenInferenceSpanKindValues.LLM.value,
            SpanAttributes.LLM_PROVIDER: call.provider,
            SpanAttributes.LLM_SYSTEM: call.provider,
            SpanAttributes.LLM_MODEL_NAME: call.response_model or call.request_model,
            SpanAttributes.LLM_REQUEST_MODEL_NAME: call.request_model,
            SpanAttributes.LLM_INVOCATION_PARAMETERS: dumps(params),
            SpanAttributes.INPUT_VALUE: dumps(request),
            SpanAttributes.INPUT_MIME_TYPE: _JSON,
        }
        self._flatten(SpanAttributes.LLM_INPUT_MESSAGES, call.messages, attrs)
        if call.error_type is not None:
            attrs[ERROR_TYPE] = call.error_type
        else:
            assert call.output is not None and call.input_tokens is not None
            assert call.output_tokens is not None
            self._flatten(SpanAttributes.LLM_OUTPUT_MESSAGES, [call.output], attrs)
            response = {
                "id": call.response_id,
                "object": "chat.completion",
                "model": call.response_model,
                "system_fingerprint": call.fingerprint,
                "choices": [
                    {
                        "index": 0,
                        "message": self._openai_message(call.output),
                        "finish_reason": call.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": call.input_tokens,
                    "completion_tokens": call.output_tokens,
                    "total_tokens": call.input_tokens + call.output_tokens,
                },
            }
            attrs.update(
                {
                    SpanAttributes.LLM_RESPONSE_MODEL_NAME: call.response_model,
                    SpanAttributes.LLM_FINISH_REASON: call.finish_reason,
                    SpanAttributes.LLM_TOKEN_COUNT_PROMPT: call.input_tokens,
                    SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: call.output_tokens,
                    SpanAttributes.LLM_TOKEN_COUNT_TOTAL: call.input_tokens + call.output_tokens,
                    SpanAttributes.OUTPUT_VALUE: dumps(response),
                    SpanAttributes.OUTPUT_MIME_TYPE: _JSON,
                }
            )
        return "ChatCompletion", SpanKind.INTERNAL, attrs

    def tool(
        self,
        name: str,
        call_id: str,
        arguments: dict[str, Any],
        result: Any,
        error_type: str | None,
    ) -> tuple[str, SpanKind, Attributes]:
        attrs: Attributes = {
            _KIND: OpenInferenceSpanKindValues.TOOL.value,
            SpanAttributes.TOOL_NAME: name,
            SpanAttributes.TOOL_ID: call_id,
            SpanAttributes.TOOL_PARAMETERS: dumps(arguments),
            SpanAttributes.INPUT_VALUE: dumps(arguments),
            SpanAttributes.INPUT_MIME_TYPE: _JSON,
            SpanAttributes.OUTPUT_VALUE: dumps(result),
            SpanAttributes.OUTPUT_MIME_TYPE: _JSON,
        }
        if "idempotency_key" in arguments:
            attrs[IDEMPOTENCY_KEY] = arguments["idempotency_key"]
        if error_type is not None:
            attrs[ERROR_TYPE] = error_type
        return name, SpanKind.INTERNAL, attrs

    def retrieval(
        self, data_source: str, query: str, documents: list[Retrieved]
    ) -> tuple[str, SpanKind, Attributes]:
        attrs: Attributes = {
            _KIND: OpenInferenceSpanKindValues.RETRIEVER.value,
            SpanAttributes.INPUT_VALUE: query,
            SpanAttributes.INPUT_MIME_TYPE: _TEXT,
        }
        for i, d in enumerate(documents):
            p = f"{SpanAttributes.RETRIEVAL_DOCUMENTS}.{i}."
            attrs[p + DocumentAttributes.DOCUMENT_ID] = d.document_id
            attrs[p + DocumentAttributes.DOCUMENT_CONTENT] = d.content
            attrs[p + DocumentAttributes.DOCUMENT_SCORE] = d.score
            attrs[p + DocumentAttributes.DOCUMENT_METADATA] = dumps(d.metadata())
        return f"retrieve {data_source}", SpanKind.INTERNAL, attrs

    def embedding(
        self, provider: str, model: str, text: str, tokens: int
    ) -> tuple[str, SpanKind, Attributes]:
        return (
            "CreateEmbeddings",
            SpanKind.INTERNAL,
            {
                _KIND: OpenInferenceSpanKindValues.EMBEDDING.value,
                SpanAttributes.EMBEDDING_MODEL_NAME: model,
                SpanAttributes.LLM_PROVIDER: provider,
                SpanAttributes.INPUT_VALUE: text,
                SpanAttributes.INPUT_MIME_TYPE: _TEXT,
                SpanAttributes.LLM_TOKEN_COUNT_PROMPT: tokens,
                SpanAttributes.LLM_TOKEN_COUNT_TOTAL: tokens,
            },
        )

    def evaluation(
        self, name: str, score: float, label: str, explanation: str, response_id: str | None
    ) -> Attributes:
        """OpenInference has no span-event form for evaluations; GenAI's event is used."""
        return GenAIConvention().evaluation(name, score, label, explanation, response_id)


Convention = GenAIConvention | OpenInferenceConvention
