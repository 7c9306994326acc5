"""Pydantic models of every OCPI 2.2.1 object, written from the field tables of the spec digest
(/work/shared/ocpi/*.md, i.e. shared/ocpi): types, string lengths, enums, cardinality and the rules the tables
state (PublishTokenType, Hours, Credit CDRs, ...). Strict (no coercion) and closed (no unknown fields).

The tests in this package check that the spec's examples validate (so the models are right), that our
Receivers accept every example, and that every object our Senders serve and every request our outbox sends
validates (so we speak the spec).
"""
