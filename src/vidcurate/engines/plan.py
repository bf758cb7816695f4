"""What a run will do: per stage, its fingerprint, which shards resume and which are redone, and why.

A stage's fingerprint covers its config and every stage before it. A part's key covers the
stage's fingerprint, the input's layout and its shard's content (from a barrier stage on: every
shard's content, since a global match depends on all of them): a part on disk whose key matches
is resumed; any other is redone. A stage whose fingerprint changed is cleared with every stage
after it (config changed); a shard whose input changed is redone alone (input changed).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from vidcurate.core.recipe import Recipe, StageSpec
from vidcurate.core.stage import Stage
from vidcurate.engines.source import SourceInfo
from vidcurate.engines.tasks import ShardStats
from vidcurate.io.runfolder import RunFolder, StageDir

ROOT = "vidcurate-run/2"  # bump to invalidate every run made by an incompatible engine


@dataclass
class StagePlan:
    """One stage of the run: where it writes, what is done, what is left and why."""

    spec: StageSpec
    stage: Stage[Any]  # built on the driver for checks; never set up here
    dirname: str
    fingerprint: str
    keys: list[str]  # per shard: the key its part must carry
    done: dict[int, ShardStats] = field(default_factory=dict)  # resumed shards
    todo: dict[int, str] = field(default_factory=dict)  # shard -> why it is (re)done
    config_changed: bool = False

    @property
    def stage_key(self) -> str:
        return f"{self.dirname}:{self.fingerprint}"


def part_key(stage_fp: str, layout: str, shard_fp: str) -> str:
    return hashlib.sha1(f"{stage_fp}|{layout}|{shard_fp}".encode()).hexdigest()[:16]


def plan(recipe: Recipe, folder: RunFolder, source: SourceInfo, stages: list[Stage[Any]]) -> list[StagePlan]:
    """Look at the run folder and say, per stage and shard, what resumes and what is redone."""
    plans: list[StagePlan] = []
    fp = ROOT
    whole = hashlib.sha1("|".join(source.fingerprints).encode()).hexdigest()[:16]
    global_from = False
    for spec, stage in zip(recipe.stages, stages, strict=True):
        fp = spec.fingerprint(fp)
        dirname = folder.stage_dirname(spec.index, spec.name)
        # from a barrier on, every part depends on every shard (a global match): any change redoes all
        global_from = global_from or stage.barrier
        keys = [part_key(fp, source.layout, whole if global_from else s) for s in source.fingerprints]
        p = StagePlan(spec, stage, dirname, fp, keys)
        meta = folder.stage(dirname).read_meta()
        p.config_changed = meta is not None and meta.get("fingerprint") != fp
        plans.append(p)
    changed_from = next((i for i, p in enumerate(plans) if p.config_changed), len(plans))
    for i, p in enumerate(plans):
        d = folder.stage(p.dirname)
        if i >= changed_from:
            p.todo = dict.fromkeys(range(source.shards), "config changed" if p.config_changed else "upstream changed")
            continue
        _resumable(p, d, source.shards)
    return plans


def _resumable(p: StagePlan, d: StageDir, shards: int) -> None:
    for i in range(shards):
        part = d.part(i)
        if not part.exists():
            p.todo[i] = "not done yet"
            continue
        try:
            stats = ShardStats.from_parquet(part)
        except Exception:
            p.todo[i] = "part unreadable"
            continue
        retry = {f"{p.spec.name}:{k}" for k in p.stage.retryable_errors}
        if stats.key and stats.key != p.keys[i]:
            p.todo[i] = "input changed"
        elif retry & set(stats.errors):
            p.todo[i] = "rows to retry (timeouts, server errors)"
        else:
            p.done[i] = stats


def apply(plans: list[StagePlan], folder: RunFolder, shards: int) -> None:
    """Make the folder match the plan: clear changed stages, drop stale parts, write `_stage.json`."""
    for p in plans:
        d = folder.stage(p.dirname)
        if p.config_changed:
            d.clear()
        for i, why in p.todo.items():
            if why != "not done yet":
                d.drop_shard(i)
        meta = d.read_meta() or {}
        for extra in range(shards, int(meta.get("shards") or 0)):
            d.drop_shard(extra)
        d.clean_tmp()
        d.write_meta(
            {
                "fingerprint": p.fingerprint,
                "stage": p.spec.name,
                "config": p.spec.config.model_dump(mode="json"),
                "complete": not p.todo,
                "shards": shards,
            }
        )
