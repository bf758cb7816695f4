"""Deduplication stages: exact (file or decoded-stream hash), perceptual (pHash sequences), semantic.

Each is a barrier stage: its signatures come from earlier stages computed per shard in parallel
(`probe: {content_hash: true}`, the `phash` and `embed` scorers), and the match runs once over
every shard (`base.DedupStage`).
"""
