"""The live feed: events as they become known, the state they build, push scoring, the board."""
