"""The scoring API: real-time predictions from the published warehouse and the champion models."""
