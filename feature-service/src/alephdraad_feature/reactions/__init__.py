"""Reactions to threads: one per member per thread (like, love, fire, sad, laugh), counted in
`thread_stats` in the same transaction as the reaction write."""
