"""assay: an LLM quality control plane.

The nouns: a **sample** (one eval case), a **subject** (the thing being evaluated: a model and
prompt, a function, precomputed outputs, an HTTP app), a **scorer** (grades an output), and a
**run** (subjects × samples × epochs, stored with a manifest of everything it depended on).

```python
import assay

ev = assay.Eval.from_yaml("eval.yaml")
outcome = assay.run(ev)                     # results stream into .assay/assay.db
summary = assay.summarise_run(assay.Store(), outcome.run_id)
```

``assay.run`` is always the function, even after the subpackage of the same name
(``assay.run``: subjects, specs, the runner) has been imported; import from the subpackage with
``from assay.run import ...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay._lazy import export_lazily

__version__ = "0.1.0"

# Public names and the module that defines each. They are imported on first use, so that
# `import assay` (and the CLI's start-up) does not pay for SciPy, aiohttp or SQLAlchemy until
# something needs them.
_EXPORTS: dict[str, str] = {
    "CompareSettings": "assay.analyse",
    "compare_runs": "assay.analyse",
    "compare_scores": "assay.analyse",
    "gate": "assay.analyse",
    "plan_from_runs": "assay.analyse",
    "plan_proportions": "assay.analyse",
    "diff_manifests": "assay.analyse",
    "export_run": "assay.analyse",
    "summarise_run": "assay.analyse",
    "AssayError": "assay.core",
    "Message": "assay.core",
    "ModelRequest": "assay.core",
    "Output": "assay.core",
    "Provenance": "assay.core",
    "RunManifest": "assay.core",
    "Sample": "assay.core",
    "SampleResult": "assay.core",
    "Score": "assay.core",
    "Usage": "assay.core",
    "Dataset": "assay.data",
    "FieldMap": "assay.data",
    "load_dataset": "assay.data",
    "CallableSubject": "assay.run",
    "Eval": "assay.run",
    "HttpSubject": "assay.run",
    "ModelSubject": "assay.run",
    "PrecomputedSubject": "assay.run",
    "PromptTemplate": "assay.run",
    "RunOutcome": "assay.run",
    "load_eval": "assay.run",
    "run": "assay.run",
    "run_async": "assay.run",
    "exact": "assay.score",
    "includes": "assay.score",
    "Store": "assay.store",
}

__all__ = [
    "AssayError",
    "CallableSubject",
    "CompareSettings",
    "Dataset",
    "Eval",
    "FieldMap",
    "HttpSubject",
    "Message",
    "ModelRequest",
    "ModelSubject",
    "Output",
    "PrecomputedSubject",
    "PromptTemplate",
    "Provenance",
    "RunManifest",
    "RunOutcome",
    "Sample",
    "SampleResult",
    "Score",
    "Store",
    "Usage",
    "__version__",
    "compare_runs",
    "compare_scores",
    "diff_manifests",
    "exact",
    "export_run",
    "gate",
    "includes",
    "load_dataset",
    "load_eval",
    "plan_from_runs",
    "plan_proportions",
    "run",
    "run_async",
    "summarise_run",
]


export_lazily(__name__, _EXPORTS, __all__)


if TYPE_CHECKING:
    from assay.analyse import (
        CompareSettings,
        compare_runs,
        compare_scores,
        diff_manifests,
        export_run,
        gate,
        plan_from_runs,
        plan_proportions,
        summarise_run,
    )
    from assay.core import (
        AssayError,
        Message,
        ModelRequest,
        Output,
        Provenance,
        RunManifest,
        Sample,
        SampleResult,
        Score,
        Usage,
    )
    from assay.data import Dataset, FieldMap, load_dataset
    from assay.run import (
        CallableSubject,
        Eval,
        HttpSubject,
        ModelSubject,
        PrecomputedSubject,
        PromptTemplate,
        RunOutcome,
        load_eval,
        run,
        run_async,
    )
    from assay.score import exact, includes
    from assay.store import Store
