"""Labelled evaluation sets the project generates itself (seeded), to measure its judges on known answers.

- ``critic_cases``: wrong and right answers per class of mistake, built from the knowledge base.
- ``pii_cases``: texts with known PII spans per type, and the business facts that must survive scrubbing.
"""
