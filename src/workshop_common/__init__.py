"""Code that both the `workshop` CLI (src/workshop) and the Pulumi program (infra/workshop_infra)
use, so neither imports the other: the ARM client and the one-line error helper. Nothing here
imports from `workshop` or `workshop_infra`."""
