"""Prompt templates: text files with an optional system part, filled from the row's columns.

    [system]
    You are a careful video annotator.
    [user]
    Caption: $caption

Without section headers the whole file is the user message. Placeholders are `$column` or
`${column}` (`string.Template`), so JSON examples with braces need no escaping; write `$$` for a
literal dollar. A name without a slash or suffix (`caption`) is a template shipped in
`vidcurate/llm/prompts/`; anything else is a path, so a recipe can point at its own file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Annotated, Any

from pydantic import AfterValidator

from vidcurate.core.errors import ConfigError, RowError

_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


def packaged_names() -> list[str]:
    root = resources.files("vidcurate.llm") / "prompts"
    return sorted(p.name.removesuffix(".txt") for p in root.iterdir() if p.name.endswith(".txt"))


def _read(ref: str) -> tuple[str, str]:
    """(text, where) for a packaged name or a file path; ConfigError when neither exists."""
    if "/" not in ref and "\\" not in ref and "." not in ref:
        res = resources.files("vidcurate.llm") / "prompts" / f"{ref}.txt"
        if res.is_file():
            return res.read_text(encoding="utf-8"), f"prompts/{ref}.txt"
        raise ConfigError(f"no packaged prompt '{ref}' (packaged: {', '.join(packaged_names())}; or give a file path)")
    p = Path(ref).expanduser()
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except OSError as e:
        raise ConfigError(f"cannot read prompt template {p}: {e.strerror or e}") from None


@dataclass(frozen=True)
class PromptTemplate:
    system: Template | None
    user: Template
    where: str

    @classmethod
    def load(cls, ref: str) -> PromptTemplate:
        text, where = _read(ref)
        return cls.parse(text, where)

    @classmethod
    def parse(cls, text: str, where: str = "<prompt>") -> PromptTemplate:
        parts = _SECTION.split(text)
        system = None
        user = None
        if len(parts) == 1:
            user = text.strip()
        else:
            if parts[0].strip():
                raise ConfigError(f"{where}: text before the first [system]/[user] header")
            for name, body in zip(parts[1::2], parts[2::2], strict=True):
                if name == "system":
                    system = body.strip()
                else:
                    user = body.strip()
        if not user:
            raise ConfigError(f"{where}: the template has no user message")
        t = cls(Template(system) if system else None, Template(user), where)
        for part in (t.system, t.user):
            if part is not None and not part.is_valid():
                raise ConfigError(f"{where}: a '$' that is not a placeholder (write $$ for a literal $)")
        return t

    def fields(self) -> tuple[str, ...]:
        """The row columns the template reads (the engine checks the input has them)."""
        names: list[str] = []
        for part in (self.system, self.user):
            if part is not None:
                names += [n for n in part.get_identifiers() if n not in names]
        return tuple(names)

    def render(self, row: dict[str, Any]) -> tuple[str | None, str]:
        """(system, user) for a row; a missing or empty column is a row error, not a silent blank."""
        values: dict[str, str] = {}
        for name in self.fields():
            v = row.get(name)
            if v is None:
                raise RowError("prompt", f"the prompt {self.where} needs column '{name}', which is empty in this row")
            values[name] = v if isinstance(v, str) else str(v)
        system = self.system.substitute(values) if self.system is not None else None
        return system, self.user.substitute(values)


def check_prompt(ref: str) -> str:
    """Config validator: load once so a bad path fails when the recipe is loaded ("" means none)."""
    if not ref:
        return ref
    try:
        PromptTemplate.load(ref)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    return ref


# A prompt in a stage config: a packaged prompt name or a template file, checked when the recipe loads.
PromptRef = Annotated[str, AfterValidator(check_prompt)]
