"""PDF objects read and compared across revisions: a value as it stood in a revision, references compared by
number, dictionaries key by key."""

from __future__ import annotations

from pyhanko.pdf_utils import generic


def _get(container, key: str, default=None):
    """`container[key]` dereferenced (a `get` on a PDF dictionary returns an unresolved reference), or `default`."""
    if not isinstance(container, generic.DictionaryObject) or key not in container:
        return default
    return container[key]


def _as_of(resolver, trailer, key: str):
    """`trailer[key]` as it stood in the revision of `resolver` (the trailer's own references resolve to the
    latest revision; objects from the resolver resolve theirs within its revision)."""
    value = trailer.raw_get(key) if key in trailer else None
    if isinstance(value, generic.IndirectObject):
        return resolver.get_object(value.reference)
    return value


def _ref_key(value) -> tuple[int, int] | None:
    """(object number, generation) of a reference (`Reference`, or `IndirectObject` as found in a container)."""
    if isinstance(value, generic.Reference | generic.IndirectObject):
        return value.idnum, value.generation
    return None


def _same_ref(ref, other) -> bool:
    return other is not None and _ref_key(ref) == _ref_key(other)


def _same(left, right, depth: int = 0) -> bool:
    """The same PDF value, references compared by number (not by what they point at), at most four levels deep."""
    if _ref_key(left) is not None or _ref_key(right) is not None:
        return _ref_key(left) == _ref_key(right)
    if depth > 4:
        return False
    if isinstance(left, generic.DictionaryObject) and isinstance(right, generic.DictionaryObject):
        return set(left) == set(right) and all(_same(left.raw_get(k), right.raw_get(k), depth + 1) for k in left)
    if isinstance(left, generic.ArrayObject) and isinstance(right, generic.ArrayObject):
        return len(left) == len(right) and all(_same(a, b, depth + 1) for a, b in
                                               zip(left.iterate(), right.iterate(), strict=True))
    return type(left) is type(right) and left == right


def _changed_keys(before, after) -> set[str]:
    before = before if isinstance(before, generic.DictionaryObject) else generic.DictionaryObject()
    after = after if isinstance(after, generic.DictionaryObject) else generic.DictionaryObject()
    return {str(key) for key in set(before) | set(after)
            if key not in before or key not in after or not _same(before.raw_get(key), after.raw_get(key))}


def _only_extended(before, ref, obj, key: str) -> bool:
    """`obj[key]` is the array it was in the previous revision, with items added at its end only."""
    try:
        old, new = before.get_object(ref)[key], obj[key]
        old_items, new_items = list(old.iterate()), list(new.iterate())
    except (KeyError, TypeError, AttributeError):
        return False
    return len(new_items) >= len(old_items) and all(_same(a, b) for a, b in zip(old_items, new_items, strict=False))
