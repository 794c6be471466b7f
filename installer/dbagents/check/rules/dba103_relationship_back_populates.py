"""DBA103: two relationships over the same link that do not name each other with back_populates."""

from __future__ import annotations

from typing import Iterable

from dbagents.check.rule import Example, ProjectRule
from dbagents.findings import Finding, Severity

HEAD = "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n"


def _related(index, cls) -> set[str]:
    """The class name plus its mapped ancestors (a relationship to a parent class also reaches it)."""
    names, cur, guard = {cls.name}, cls, 0
    while cur is not None and cur.parent and guard < 20:
        names.add(cur.parent)
        cur, guard = index.classes.get(cur.parent), guard + 1
    return names


class RelationshipBackPopulates(ProjectRule):
    id = "DBA103"
    name = "relationship-missing-back-populates"
    groups = ("models",)
    severity = Severity.WARNING
    summary = "relationship() without back_populates although the target maps the reverse, or unpaired names."
    hint = "name each side in the other: a = relationship(back_populates='b') and b = relationship(back_populates='a')"
    doc = """
## What it does
For every `relationship()` on a mapped class, looks at the target class:
- if the target has exactly one relationship back to this class and neither side says `back_populates`
  (nor `backref`), both sides are reported;
- if `back_populates="x"` names an attribute the target does not have, or the target's `x` points back
  with a different name or with none, the mismatch is reported.
`viewonly=True` relationships, one-way relationships (the target maps nothing back) and targets with
several relationships to this class (ambiguous) are left alone.

## Why is this bad
Two relationships over the same foreign key that do not know about each other are two independent views
of one link. Appending `order` to `customer.orders` does not set `order.customer` until the session
flushes and reloads, so code reads stale or contradictory state, and both sides may try to write the same
foreign key.

## Example
```python
class Customer(Base):
    orders: Mapped[list["Order"]] = relationship()
class Order(Base):
    customer: Mapped["Customer"] = relationship()
```

## Fix
```python
class Customer(Base):
    orders: Mapped[list["Order"]] = relationship(back_populates="customer")
class Order(Base):
    customer: Mapped["Customer"] = relationship(back_populates="orders")
```
"""
    valid = [
        Example(
            HEAD + "class Customer(Base):\n    __tablename__ = 'customers'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    orders: Mapped[list['Order']] = relationship(back_populates='customer')\n"
            "    recent: Mapped[list['Order']] = relationship(viewonly=True)\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship(back_populates='orders')\n"
            "    tags: Mapped[list['Tag']] = relationship(secondary='order_tags')\n"
            "class Tag(Base):\n    __tablename__ = 'tags'\n    id: Mapped[int] = mapped_column(primary_key=True)\n",
            note="viewonly and one-way relationships are fine",
        ),
        Example(
            HEAD + "OWNED = {'back_populates': 'customer', 'cascade': 'all, delete-orphan'}\n"
            "class Customer(Base):\n    __tablename__ = 'customers'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    rel_args = {'back_populates': 'customer'}\n"
            "    orders: Mapped[list['Order']] = relationship(**OWNED)\n"
            "    notes: Mapped[list['Note']] = relationship('Note', **rel_args)\n"
            "    visits: Mapped[list['Visit']] = relationship(**make_args())\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship(back_populates='orders')\n"
            "class Note(Base):\n    __tablename__ = 'notes'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship(back_populates='notes')\n"
            "class Visit(Base):\n    __tablename__ = 'visits'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship(back_populates='visits')\n",
            note="back_populates passed as **a module- or class-level literal dict, or a **call it cannot read",
        ),
    ]
    invalid = [
        Example(
            HEAD + "class Customer(Base):\n    __tablename__ = 'customers'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    orders: Mapped[list['Order']] = relationship()\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship()\n",
            lines=(7, 12),
        ),
        Example(
            HEAD + "class Customer(Base):\n    __tablename__ = 'customers'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    orders: Mapped[list['Order']] = relationship(back_populates='buyer')\n"
            "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship(back_populates='orders')\n",
            lines=(7, 12),
            note="Customer.orders names a missing attribute; Order.customer's partner does not name it back",
        ),
        Example(
            HEAD + "class Order(Base):\n    __tablename__ = 'orders'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    customer_id: Mapped[int] = mapped_column(ForeignKey('customers.id'), index=True)\n"
            "    customer: Mapped['Customer'] = relationship('Customer')\n"
            "class Customer(Base):\n    __tablename__ = 'customers'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    owned = {'back_populates': 'customer', 'cascade': 'all, delete-orphan'}\n"
            "    orders: Mapped[list['Order']] = relationship('Order', **owned)\n",
            lines=(8,),
            note="back_populates read from a class-level dict: the other side (declared first) does not name it back",
        ),
        Example(
            HEAD + "class Group(Base):\n    __tablename__ = 'groups'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    tags: Mapped[list['Tag']] = relationship(secondary='group_tags')\n"
            "class Tag(Base):\n    __tablename__ = 'tags'\n"
            "    id: Mapped[int] = mapped_column(primary_key=True)\n"
            "    group_id: Mapped[int] = mapped_column(ForeignKey('groups.id'), index=True)\n"
            "    group: Mapped['Group'] = relationship(back_populates='tags')\n",
            lines=(12,),
            note="the two sides map different links (a foreign key vs a secondary table): not a missing pair",
        ),
    ]

    def check(self, project) -> Iterable[Finding]:
        index = project.get("models")
        seen = set()
        reported = set()  # places already reported as lacking back_populates
        for cls in index.all_classes:
            if not cls.concrete:
                continue
            mine = _related(index, cls)
            for rel in cls.relationships.values():
                key = (rel.relpath, rel.line)
                if key in seen or rel.viewonly or rel.backref or rel.target is None or rel.hidden_kwargs:
                    continue  # hidden_kwargs: a **dict the checker cannot read may name back_populates
                target = index.classes.get(rel.target)
                if target is None or not target.concrete:
                    continue
                seen.add(key)
                if rel.back_populates:
                    other = target.relationships.get(rel.back_populates)
                    if other is None:
                        if any(r.backref == rel.back_populates for c in index.all_classes
                               for r in c.relationships.values()):
                            continue
                        yield self.finding(
                            rel.relpath, rel.line, rel.col,
                            f"{cls.name}.{rel.attr} has back_populates='{rel.back_populates}' but "
                            f"{target.name} has no relationship named {rel.back_populates}",
                            end_line=rel.end_line,
                        )
                    elif other.back_populates and other.back_populates != rel.attr and other.target in mine:
                        yield self.finding(
                            rel.relpath, rel.line, rel.col,
                            f"{cls.name}.{rel.attr} pairs with {target.name}.{other.attr}, which names "
                            f"back_populates='{other.back_populates}' instead of '{rel.attr}'",
                            end_line=rel.end_line,
                        )
                    elif other.back_populates is None and bool(other.secondary) != bool(rel.secondary):
                        yield self.finding(
                            rel.relpath, rel.line, rel.col,
                            f"{cls.name}.{rel.attr} has back_populates='{rel.back_populates}', but "
                            f"{target.name}.{rel.back_populates} maps another link "
                            f"({'through a secondary table' if other.secondary else 'a direct foreign key'})",
                            hint="point back_populates at the relationship over the same link, or drop it",
                            end_line=rel.end_line,
                        )
                    elif (other.back_populates is None and not other.viewonly and not other.backref
                          and not other.hidden_kwargs):
                        okey = (other.relpath, other.line)
                        if okey not in reported:
                            reported.add(okey)
                            yield self.finding(
                                other.relpath, other.line, other.col,
                                f"{target.name}.{other.attr} lacks back_populates='{rel.attr}' although "
                                f"{cls.name}.{rel.attr} names it",
                                end_line=other.end_line,
                            )
                    continue
                reverse = [r for r in target.relationships.values()
                           if r.target in mine and r is not rel and not r.viewonly]
                if len(reverse) != 1 or (target is cls and len(cls.relationships) > 2):
                    continue
                other = reverse[0]
                if other.back_populates or other.backref or other.hidden_kwargs:
                    continue
                if rel.primaryjoin != other.primaryjoin or rel.secondary != other.secondary:
                    continue
                yield self.finding(
                    rel.relpath, rel.line, rel.col,
                    f"{cls.name}.{rel.attr} and {target.name}.{other.attr} map the same link without "
                    "back_populates; each side goes stale until flush",
                    end_line=rel.end_line,
                )
