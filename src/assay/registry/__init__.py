"""Change management (issue 17): the prompt registry with a rationale per change (K1), prompt
bisect (K2), the model inventory with user-entered EOL dates (K3), migration evals (K4), the
claims registry (K5) and dataset versions with incident-born cases protected (A3).

State lives in the store (migration 0008); :mod:`assay.registry.yaml_io` and
:func:`assay.registry.models.eol_from_yaml` move it to and from YAML for review in git.
"""

from assay.registry.bisect import BisectResult, bisect_prompt
from assay.registry.claims import Claim, ClaimStatus, add_claim, check_claims, list_claims
from assay.registry.datasets import (
    DatasetVersion,
    commit_dataset,
    dataset_version_warning,
    diff_rows,
    get_dataset_version,
)
from assay.registry.edits import Edit, apply_edits, diff_edits, split_clauses
from assay.registry.migration import MigrationReport, Thresholds, migration_eval
from assay.registry.models import EolEntry, ModelUse, check_exit_code, inventory, set_eol
from assay.registry.prompts import (
    PromotionRefused,
    PromptVersion,
    blame,
    commit,
    get_version,
    list_versions,
    promote,
)

__all__ = [
    "BisectResult",
    "Claim",
    "ClaimStatus",
    "DatasetVersion",
    "Edit",
    "EolEntry",
    "MigrationReport",
    "ModelUse",
    "PromotionRefused",
    "PromptVersion",
    "Thresholds",
    "add_claim",
    "apply_edits",
    "bisect_prompt",
    "blame",
    "check_claims",
    "check_exit_code",
    "commit",
    "commit_dataset",
    "dataset_version_warning",
    "diff_edits",
    "diff_rows",
    "get_dataset_version",
    "get_version",
    "inventory",
    "list_claims",
    "list_versions",
    "migration_eval",
    "promote",
    "set_eol",
    "split_clauses",
]
