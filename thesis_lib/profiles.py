"""The three profiles every result records, so no number is mistaken for another.

* ``full``: the thesis protocol exactly (models, epochs, seeds). Needs a GPU.
* ``quick``: every table and figure end to end on 2 CPU cores in well under an hour; numbers are qualitative.
* ``smoke``: seconds per table, for tests and CI.
"""

from __future__ import annotations

from pathlib import Path

PROFILES = ("full", "quick", "smoke")


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def default_profile() -> str:
    """``full`` when a CUDA GPU is present, else ``quick``."""
    import torch

    return "full" if torch.cuda.is_available() else "quick"


def check_profile(profile: str, allow_full_without_gpu: bool = False) -> str:
    """Validate a profile name (e.g. a papermill parameter); raises ``ValueError`` with the fix."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    if profile == "full" and not allow_full_without_gpu:
        import torch

        if not torch.cuda.is_available():
            raise ValueError("profile 'full' runs the thesis protocol and needs a CUDA GPU, none is visible. "
                             "Use profile='quick' on a CPU (qualitative numbers in well under an hour).")
    return profile


def output_dirs(results_dir=None, figures_dir=None) -> tuple[Path, Path]:
    """Resolve notebook output folders (default: the repository's results/ and figures/), creating them."""
    root = repo_root()
    results = Path(results_dir) if results_dir else root / "results"
    figures = Path(figures_dir) if figures_dir else root / "figures"
    (results / "tables").mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    return results, figures
