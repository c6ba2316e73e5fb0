"""``assay contract``: re-send a cassette's recorded requests to the live endpoint and report
shape differences field by field (A7). Exit 0 when the contract holds, 1 when it is broken (or
the live endpoint failed), 2 for a usage mistake."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from assay.cli.app import app, console, err_console
from assay.core import AssayError

if TYPE_CHECKING:
    from assay.run.contract import ContractReport


@app.command("contract")
def contract(
    cassette: Annotated[Path, typer.Argument(help="The recorded cassette (JSONL).")],
    provider_kind: Annotated[
        str,
        typer.Option(
            "--provider", help="Provider kind to call live: openai, anthropic, vllm, ollama…"
        ),
    ],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Endpoint root (default: the kind's).")
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="Environment variable holding the API key ('' for none; default: the kind's).",
        ),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Re-send this many recorded requests (default: all)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sample.")] = 0,
    schema_file: Annotated[
        Path | None,
        typer.Option("--schema", help="JSON Schema (JSON or YAML) the live outputs must match."),
    ] = None,
    length_ratio: Annotated[
        tuple[float, float],
        typer.Option(
            "--length-ratio",
            help="Allowed live/recorded length ratio, LOW HIGH ('0 inf' switches it off).",
        ),
    ] = (0.5, 2.0),
    timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds allowed per call (default: 60).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight at once.")] = 4,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Check that the live endpoint still answers in the shape the cassette recorded."""
    from assay.providers import create_provider
    from assay.run.contract import check_contract

    schema = _load_schema(schema_file) if schema_file is not None else None
    config: dict[str, Any] = {}
    if base_url is not None:
        config["base_url"] = base_url
    if api_key_env is not None:
        config["api_key_env"] = api_key_env or None
    if timeout is not None:
        config["timeout"] = timeout
    low, high = length_ratio
    bounds = None if low <= 0 and math.isinf(high) else (low, high)
    provider = create_provider(provider_kind, config, where=f"--provider {provider_kind}")

    async def check() -> ContractReport:
        try:
            return await check_contract(
                cassette,
                provider,
                sample=sample,
                seed=seed,
                schema=schema,
                length_bounds=bounds,
                concurrency=concurrency,
            )
        finally:
            await provider.aclose()

    import asyncio

    report = asyncio.run(check())
    if json_out:
        console.print_json(data=report.model_dump(mode="json"))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _load_schema(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssayError(
            f"cannot read the schema file: {exc.strerror or exc}",
            where=f"--schema {path}",
            fix="check the path",
        ) from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            from assay.run.yamlfile import parse_yaml

            schema = parse_yaml(text, str(path)).data  # the one loader: aliases capped
        else:
            schema = json.loads(text)
    except AssayError:
        raise
    except (ValueError, ImportError) as exc:
        raise AssayError(
            f"the schema file is not valid {'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'}"
            f": {exc}",
            where=str(path),
        ) from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise AssayError(f"the schema file cannot be parsed: {exc}", where=str(path)) from None
    if not isinstance(schema, dict):
        raise AssayError("the schema must be a JSON object", where=str(path))
    return schema


def _print_report(report: ContractReport) -> None:
    checked = len(report.entries)
    scope = (
        f"{checked} of {report.n_recorded} recorded calls"
        if checked < report.n_recorded
        else f"all {checked} recorded calls"
    )
    err_console.print(
        f"contract check: {scope} in {report.cassette} re-sent to provider {report.provider}"
        + (f" (seed {report.seed})" if report.sample is not None else ""),
        highlight=False,
        markup=False,
    )
    if report.n_without_request:
        err_console.print(
            f"note: {report.n_without_request} entries keep no request and were skipped",
            highlight=False,
            markup=False,
        )
    bad = [e for e in report.entries if not e.ok]
    if bad:
        table = Table(title="Entries that broke the contract", title_justify="left")
        table.add_column("entry", no_wrap=True)
        table.add_column("model")
        table.add_column("resolved (recorded → live)")
        table.add_column("field", no_wrap=True)
        table.add_column("difference")
        for entry in bad:
            resolved = f"{entry.recorded_model or '-'} → {entry.live_model or '-'}"
            rows = [
                (d.path or "(whole output)", f"{d.kind}: {d.message}") for d in entry.differences
            ]
            if entry.error is not None:
                rows = [("-", f"error ({entry.error_class}): {entry.error}")]
            for n, (field, text) in enumerate(rows):
                first = n == 0
                table.add_row(
                    entry.request_hash[:12] if first else "",
                    entry.model if first else "",
                    resolved if first else "",
                    field,
                    text,
                    end_section=n == len(rows) - 1,
                )
        console.print(table)
    recorded_models = sorted({e.recorded_model for e in report.entries if e.recorded_model})
    if report.live_models and report.live_models != recorded_models:
        console.print(
            f"resolved model changed: recorded {', '.join(recorded_models) or '-'}, "
            f"live {', '.join(report.live_models)}",
            highlight=False,
            markup=False,
        )
    if report.ok:
        console.print(
            f"contract holds: {report.n_checked} live answers match the recorded shapes",
            highlight=False,
            markup=False,
        )
        return
    parts = []
    if report.n_broken:
        fields = ", ".join(
            f"{path or '(whole output)'} {kind} ({n})" for path, kind, n in report.broken_fields()
        )
        parts.append(f"{report.n_broken} of {checked} answers changed shape: {fields}")
    if report.n_errors:
        parts.append(f"{report.n_errors} of {checked} calls failed, so they are unverified")
    console.print("contract broken: " + "; ".join(parts), highlight=False, markup=False)
