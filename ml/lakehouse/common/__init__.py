"""Small kits every subsystem uses: atomic file writes, the HTML page kit, number formatting."""
