"""The corpus store: what an accepted kernel becomes, and how records are kept, deduplicated and grouped.

``corpus`` writes the append-only, crash-safe JSONL shards, their dedup index and the typed record (``Record``);
``canonical`` is the dedup key (a kernel's source up to names and formatting); ``neardup`` the near-duplicate
structure (shapes, MinHash clusters) and the leak-free splits the export and statistics read. Nothing here imports
Warp or runs a kernel.
"""
