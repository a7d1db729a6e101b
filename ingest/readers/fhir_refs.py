"""Resolving FHIR references inside one input (a Bundle, or a folder of bulk-export NDJSON).

A reference may be a Bundle ``fullUrl`` (``urn:uuid:...``), a relative ``Type/id``, or an absolute
``http://server/fhir/Type/id[/_history/n]``; all three resolve to the same resource. A reference that
names a resource the input does not hold is *dangling*: callers render "(unresolved reference)" and
record a warning instead of failing, because real exports routinely omit referenced resources.
"""

from __future__ import annotations


class References:
    """An index from every spelling of a resource's address to the resource."""

    def __init__(self):
        self._by_key: dict[str, dict] = {}

    def add(self, resource: dict, full_url: str | None = None) -> None:
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if isinstance(full_url, str) and full_url:
            self._by_key[full_url] = resource
        if isinstance(rtype, str) and isinstance(rid, str) and rid:
            self._by_key.setdefault(f"{rtype}/{rid}", resource)
            self._by_key.setdefault(f"urn:uuid:{rid}", resource)

    def resolve(self, ref) -> tuple[dict | None, bool]:
        """(resource, dangling): dangling is True when a reference was given but names nothing here.

        A missing reference, a display-only reference and a contained ``#id`` are not dangling.
        """
        target = ref.get("reference") if isinstance(ref, dict) else ref
        if not isinstance(target, str) or not target.strip() or target.startswith("#"):
            return None, False
        hit = self._by_key.get(target)
        if hit is not None:
            return hit, False
        parts = target.split("/_history/")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            hit = self._by_key.get(f"{parts[-2]}/{parts[-1]}")
            if hit is not None:
                return hit, False
        return None, True


def reference_target(ref) -> str:
    """The reference string of a Reference (or "" when there is none)."""
    target = ref.get("reference") if isinstance(ref, dict) else ref
    return target if isinstance(target, str) else ""


def key_of(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"
