"""Subjects: the things being evaluated.

A subject turns a sample into an output. Four kinds: a model behind a provider plus a prompt
template; a Python callable; a file of outputs produced elsewhere; and an HTTP endpoint of the
user's own application.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from assay.core import (
    ModelRequest,
    Output,
    ProviderError,
    Sample,
    SpecError,
    SubjectError,
    SubjectManifest,
    content_hash,
)
from assay.core.construct import construct_checked
from assay.providers import Provider
from assay.run.cache import cache_namespace
from assay.run.prompt import PromptTemplate


@runtime_checkable
class Subject(Protocol):
    """Anything that answers samples.

    ``respond`` raises :class:`~assay.core.ProviderError` or :class:`~assay.core.SubjectError`
    when it cannot answer; the runner records the failure against the sample and carries on.
    """

    name: str
    kind: str

    async def respond(self, sample: Sample, *, epoch: int) -> Output: ...

    def manifest(self) -> SubjectManifest: ...

    async def aclose(self) -> None: ...


class ModelSubject:
    """A model behind a provider, asked through a prompt template."""

    kind = "model"

    def __init__(
        self,
        name: str,
        *,
        provider: Provider,
        model: str,
        prompt: PromptTemplate | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.provider = provider
        self.model = model
        self.prompt = prompt or PromptTemplate()
        self.params = dict(params or {})

    def request(self, sample: Sample, *, epoch: int) -> ModelRequest:
        """The provider request for one sample and epoch."""
        context = {"sample_id": sample.id, "metadata": sample.metadata, "target": sample.target}
        return construct_checked(
            ModelRequest,
            {
                "model": self.model,
                "messages": self.prompt.render(sample),
                "params": self.params,
                "epoch": epoch,
                "seed": None,
                "context": context,
            },
        )

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        return await self.provider.generate(self.request(sample, epoch=epoch))

    def manifest(self) -> SubjectManifest:
        namespace = cache_namespace(self.provider)
        return SubjectManifest(
            name=self.name,
            kind=self.kind,
            provider=self.provider.name,
            requested_model=self.model,
            prompt_template=self.prompt.text,
            prompt_hash=self.prompt.hash,
            params=self.params,
            config={"system": self.prompt.system, "user": self.prompt.user}
            | ({"cache_namespace": namespace} if namespace else {}),
        )

    async def aclose(self) -> None:
        await self.provider.aclose()


SubjectFunction = Callable[[Sample], Awaitable[Output | str] | Output | str]


class CallableSubject:
    """A Python function ``(Sample) -> Output | str``, sync or async."""

    kind = "callable"

    def __init__(self, name: str, fn: SubjectFunction, *, ref: str | None = None) -> None:
        self.name = name
        self.fn = fn
        self.ref = (
            ref or f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"
        )

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        start = time.perf_counter()
        result = self.fn(sample)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, str):
            return Output(text=result, latency_ms=(time.perf_counter() - start) * 1000)
        if isinstance(result, Output):
            return result
        raise SubjectError(
            f"callable returned {type(result).__name__}, expected str or assay.Output",
            where=self.ref,
        )

    def manifest(self) -> SubjectManifest:
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            source = self.ref
        return SubjectManifest(
            name=self.name,
            kind=self.kind,
            config={"callable": self.ref, "source_hash": content_hash(source)},
        )

    async def aclose(self) -> None:
        return None


class PrecomputedSubject:
    """Outputs produced elsewhere: a JSONL file with one ``{id, output}`` object per sample."""

    kind = "precomputed"

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        id_field: str = "id",
        output_field: str = "output",
        model_field: str | None = "model",
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.id_field = id_field
        self.output_field = output_field
        self.model_field = model_field
        self.outputs: dict[str, Output] = {}
        self._hash = ""
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise SpecError(
                "outputs file not found", where=str(self.path), fix="check the path"
            ) from None
        self._hash = content_hash(raw.decode("utf-8", errors="replace"))
        for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{self.path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SpecError(f"malformed JSON: {exc.msg}", where=where) from None
            if not isinstance(row, dict):
                raise SpecError("each line must be a JSON object", where=where)
            if self.id_field not in row:
                raise SpecError(
                    f"missing field '{self.id_field}'",
                    where=where,
                    fix="set id_field in the subject",
                )
            if self.output_field not in row:
                raise SpecError(
                    f"missing field '{self.output_field}' (present: {', '.join(row)})",
                    where=where,
                    fix="set output_field in the subject",
                )
            key = str(row[self.id_field])
            if key in self.outputs:
                raise SpecError(f"duplicate output for id '{key}'", where=where)
            model = row.get(self.model_field) if self.model_field else None
            self.outputs[key] = Output(text=str(row[self.output_field]), model=model, raw=row)

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        try:
            return self.outputs[sample.id]
        except KeyError:
            raise SubjectError(
                f"no output for sample '{sample.id}'", where=str(self.path)
            ) from None

    def manifest(self) -> SubjectManifest:
        return SubjectManifest(
            name=self.name,
            kind=self.kind,
            config={
                "path": str(self.path),
                "content_hash": self._hash,
                "output_field": self.output_field,
            },
        )

    async def aclose(self) -> None:
        return None


class HttpSubject:
    """The user's own application over HTTP.

    Each sample is POSTed as JSON ``{"id", "input", "metadata"}`` (``input`` is the text, or
    the chat messages as a list of objects); the answer is read from the response JSON at the
    dotted ``output_path`` (default ``output``).
    """

    kind = "http"

    def __init__(
        self,
        name: str,
        url: str,
        *,
        output_path: str = "output",
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.url = url
        self.output_path = output_path
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._session: Any = None

    async def _client(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    async def respond(self, sample: Sample, *, epoch: int) -> Output:
        import aiohttp

        body = {
            "id": sample.id,
            "input": sample.input
            if isinstance(sample.input, str)
            else [m.model_dump() for m in sample.input],
            "metadata": sample.metadata,
        }
        session = await self._client()
        start = time.perf_counter()
        try:
            async with session.post(self.url, json=body, headers=self.headers) as response:
                text = await response.text()
                status = response.status
        except TimeoutError:
            raise ProviderError(
                "request timed out", error_class="timeout", retryable=True, where=self.url
            ) from None
        except aiohttp.ClientError as exc:
            raise ProviderError(
                f"{type(exc).__name__}: {exc}",
                error_class="connection",
                retryable=True,
                where=self.url,
            ) from None
        latency = (time.perf_counter() - start) * 1000
        if status >= 400:
            error_class = "server_error" if status >= 500 else "client_error"
            raise ProviderError(
                f"HTTP {status}: {text[:300]}",
                error_class=error_class,
                retryable=status >= 500,
                status=status,
                where=self.url,
            )
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise ProviderError(
                "response is not JSON",
                error_class="malformed_response",
                retryable=True,
                where=self.url,
            ) from None
        value: Any = data
        for part in self.output_path.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ProviderError(
                    f"response has no '{self.output_path}'",
                    error_class="malformed_response",
                    where=self.url,
                    fix="set output_path in the subject to where the answer is",
                )
            value = value[part]
        return Output(
            text=value if isinstance(value, str) else json.dumps(value),
            latency_ms=latency,
            raw=data,
        )

    def manifest(self) -> SubjectManifest:
        return SubjectManifest(
            name=self.name,
            kind=self.kind,
            config={
                "url": self.url,
                "output_path": self.output_path,
                "header_names": sorted(self.headers),
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
