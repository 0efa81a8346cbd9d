"""Deterministic sample data for the landing zone: the single-customer-view problem in small.

    from scv.generate import generate_landing, GenerationSummary
    summary = generate_landing("landing", people=10_000, seed=42)

writes one delivery of every source (CRM contacts, webshop accounts, loyalty cards, POS
transactions, web events) in its native shape, plus the ground truth, exactly as
docs/data-contracts.md "Landing zone" declares. People appear in 1 to 4 records with the mess
real data has (nicknames, accents, typos, swapped and "Last, First" names, married-name changes,
moves, e-mail and phone variants, missing fields, placeholders, company accounts) and the hard
negatives that make resolution hard (households, twins, juniors, common-name collisions).

The same arguments always write the same bytes. Internals (population model, renderers,
event model) live in the submodules and are not part of the public surface.
"""

from scv.generate.landing import GenerationSummary, generate_landing, landing_files

__all__ = ["GenerationSummary", "generate_landing", "landing_files"]
