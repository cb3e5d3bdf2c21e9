"""Shopify's calculated query cost and the leaky bucket it is charged to (reference §3.2).

Requested (worst-case) cost, computed statically before the query runs:
* scalars and enums 0, every object 1;
* a connection costs 2 plus ``first``/``last`` times the cost of one node (``edges { node }`` /
  ``nodes``); a plain list with a ``first`` argument costs ``first`` times its element;
* interfaces and unions cost the most expensive of their type-conditioned selections;
* each top-level mutation field costs ``mutation_cost`` (10).
The bucket (per app and shop) refills at ``restore_rate`` per second up to ``bucket_size``; a query
is refused with THROTTLED when the bucket holds less than its requested cost, and after it runs
the difference between requested and actual cost is given back.
"""
from __future__ import annotations

import threading
import time

from graphql import (FieldNode, FragmentSpreadNode, GraphQLList, GraphQLNonNull, GraphQLObjectType,
                     InlineFragmentNode, OperationDefinitionNode, OperationType, is_leaf_type,
                     value_from_ast_untyped)


def _unwrap(t):
    is_list = False
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        if isinstance(t, GraphQLList):
            is_list = True
        t = t.of_type
    return t, is_list


class CostCalculator:
    def __init__(self, schema, *, mutation_cost: int = 10):
        self.schema = schema
        self.mutation_cost = mutation_cost

    def requested(self, document, operation: OperationDefinitionNode, variables: dict | None) -> int:
        fragments = {d.name.value: d for d in document.definitions if d.kind == "fragment_definition"}
        variables = variables or {}
        if operation.operation == OperationType.MUTATION:
            total = 0
            for sel in operation.selection_set.selections:
                if isinstance(sel, FieldNode) and not sel.name.value.startswith("__"):
                    total += self.mutation_cost
            return total
        return self._selection_cost(operation.selection_set, self.schema.query_type, fragments, variables)

    # ------------------------------------------------------------------
    def _arg(self, field: FieldNode, name: str, variables: dict):
        for arg in field.arguments or ():
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, variables)
        return None

    def _selection_cost(self, selection_set, parent, fragments, variables) -> int:
        if selection_set is None:
            return 0
        plain = 0
        conditioned: dict[str, int] = {}
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                plain += self._field_cost(sel, parent, fragments, variables)
                continue
            if isinstance(sel, FragmentSpreadNode):
                frag = fragments.get(sel.name.value)
                if frag is None:
                    continue
                cond, sub = frag.type_condition.name.value, frag.selection_set
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition.name.value if sel.type_condition else parent.name
                sub = sel.selection_set
            else:
                continue
            target = self.schema.type_map.get(cond, parent)
            cost = self._selection_cost(sub, target, fragments, variables)
            if cond == parent.name:
                plain += cost
            else:
                conditioned[cond] = conditioned.get(cond, 0) + cost
        return plain + (max(conditioned.values()) if conditioned else 0)

    def _field_cost(self, field: FieldNode, parent, fragments, variables) -> int:
        name = field.name.value
        if name.startswith("__") or not hasattr(parent, "fields") or name not in parent.fields:
            return 0
        ftype, is_list = _unwrap(parent.fields[name].type)
        if is_leaf_type(ftype):
            return 0
        first = self._arg(field, "first", variables) or self._arg(field, "last", variables)
        size = int(first) if isinstance(first, int) else None
        if isinstance(ftype, GraphQLObjectType) and ftype.name.endswith("Connection"):
            node_type = ftype.fields["nodes"].type if "nodes" in ftype.fields else None
            node_type = _unwrap(node_type)[0] if node_type is not None else None
            per_node = 0
            for sel in field.selection_set.selections if field.selection_set else ():
                if isinstance(sel, FieldNode) and sel.name.value == "nodes" and node_type is not None:
                    per_node = max(per_node, 1 + self._selection_cost(sel.selection_set, node_type, fragments, variables))
                elif isinstance(sel, FieldNode) and sel.name.value == "edges" and node_type is not None:
                    for inner in sel.selection_set.selections if sel.selection_set else ():
                        if isinstance(inner, FieldNode) and inner.name.value == "node":
                            per_node = max(per_node, 1 + self._selection_cost(inner.selection_set, node_type, fragments, variables))
            return 2 + (size or 0) * per_node
        # Interfaces and unions: _selection_cost already takes the dearest type-conditioned branch.
        element = 1 + self._selection_cost(field.selection_set, ftype, fragments, variables)
        if is_list and size is None:
            ids = self._arg(field, "ids", variables)
            size = len(ids) if isinstance(ids, list) else None
        if is_list and size is not None:
            return size * element
        return element


class LeakyBucket:
    """One bucket per (app, shop); thread-safe."""

    def __init__(self, size: float, restore_rate: float, clock=time.monotonic):
        self.size, self.rate, self.clock = float(size), float(restore_rate), clock
        self._available = float(size)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self):
        now = self.clock()
        self._available = min(self.size, self._available + (now - self._at) * self.rate)
        self._at = now

    def take(self, cost: int) -> bool:
        with self._lock:
            self._refill()
            if self._available < cost:
                return False
            self._available -= cost
            return True

    def give_back(self, amount: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.size, self._available + max(0.0, amount))

    def reset(self, size: float | None = None, restore_rate: float | None = None,
              available: float | None = None) -> None:
        """A shop on another plan (size, rate), or a bucket someone else has drained (available)."""
        with self._lock:
            self._refill()
            if size is not None:
                self.size = float(size)
            if restore_rate is not None:
                self.rate = float(restore_rate)
            self._available = min(self.size, float(available) if available is not None else self._available)

    def status(self) -> dict:
        with self._lock:
            self._refill()
            return {"maximumAvailable": self.size, "currentlyAvailable": int(self._available),
                    "restoreRate": self.rate}


class Buckets:
    def __init__(self, size: float, restore_rate: float):
        self.size, self.rate = size, restore_rate
        self._buckets: dict[tuple[str, str], LeakyBucket] = {}
        self._lock = threading.Lock()

    def get(self, client_id: str, shop: str) -> LeakyBucket:
        with self._lock:
            key = (client_id, shop)
            if key not in self._buckets:
                self._buckets[key] = LeakyBucket(self.size, self.rate)
            return self._buckets[key]
