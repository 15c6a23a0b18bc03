"""The languages a trainee's handout is written in: the course is Japanese first.

The stack's `handoutLanguage` setting (infra/workshop_infra/settings.py) accepts these and
`workshop handout` (src/workshop/handout.py) has a page for each; both import them from here.
"""

from __future__ import annotations

HANDOUT_LANGUAGES = ("ja", "en")
"""Japanese, English; the first is Pulumi.yaml's default for handoutLanguage."""
