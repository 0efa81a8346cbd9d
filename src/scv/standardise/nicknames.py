"""Nickname -> canonical given name, merged from the published list and a maintained override.

The published list (the ``nicknames`` package, carltonnorthern/nicknames) is a graph, not a
function: a nickname has several canonicals (``meg`` -> margaret, megan, ...), and many names are
both a canonical and someone's nickname (``bill`` has the nickname ``billy`` and is itself a
nickname of robert and william; ``william`` is even listed as a nickname of ``bill``). Following
it transitively would merge unrelated names, so the merge is deliberately conservative:

1. A name that has nicknames of its own in the list (``john``, ``mary``, ``bill``) is treated as
   a canonical and maps to itself. Following its own "canonicals" is what would turn ``john``
   into ``jonathan`` and ``mary`` into ``marietta``.
2. A name that is only ever a nickname (``peggy``, ``meg``, ``willy``) maps to one of its
   canonicals, chosen deterministically: first a canonical sharing its first letter, then the
   canonical with the most nicknames in the list (a proxy for a common full name), then the
   alphabetically first.
3. The override table (``include/reference/nickname_overrides.csv``) wins over both rules. It
   pins the common English nicknames that rule 1 leaves alone (``bill``, ``will``, ``bob``) or that
   rule 2 would resolve badly (``mike`` has "miguel" with more nicknames than "michael"). A row
   whose canonical equals its name blocks a mapping.
4. Finally every mapping is followed to its end, so the result is idempotent:
   ``canonical(canonical(x)) == canonical(x)`` (``bobbie`` -> ``bob`` -> ``robert``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def resolve_nicknames(
    nicknames_of: Mapping[str, Iterable[str]], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Build the nickname -> canonical map from the published graph and the overrides.

    ``nicknames_of`` maps a canonical name to its nicknames (the package's
    ``NickNamer.default_lookup()``); ``overrides`` maps a name to the canonical it must get.
    Guarantees: deterministic (independent of set and dict order), overrides win, idempotent,
    names absent from the result are their own canonical. Keys and values are lower-case.
    """
    graph = {k.strip().lower(): {v.strip().lower() for v in vs} for k, vs in nicknames_of.items()}
    canonicals_of: dict[str, set[str]] = {}
    for canonical, nicks in graph.items():
        for nick in nicks:
            if nick != canonical:
                canonicals_of.setdefault(nick, set()).add(canonical)

    def preference(nick: str, candidate: str) -> tuple[bool, int, str]:
        return (candidate[0] != nick[0], -len(graph.get(candidate, ())), candidate)

    mapping: dict[str, str] = {}
    for nick in sorted(canonicals_of):
        if nick in graph:  # rule 1: has nicknames of its own, so it is a canonical
            continue
        mapping[nick] = min(canonicals_of[nick], key=lambda c: preference(nick, c))

    for name, canonical in sorted(overrides.items()):  # rule 3
        mapping[name.strip().lower()] = canonical.strip().lower()

    resolved: dict[str, str] = {}
    for name in sorted(mapping):  # rule 4
        seen = [name]
        current = mapping[name]
        while current in mapping and mapping[current] != current and current not in seen:
            seen.append(current)
            current = mapping[current]
        if current != name:
            resolved[name] = current
    return resolved


def published_nicknames() -> dict[str, set[str]]:
    """The published list as canonical -> nicknames (the ``nicknames`` package's data)."""
    from nicknames import NickNamer

    return NickNamer.default_lookup()
