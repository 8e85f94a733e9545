"""Sessions: meetings planned and held by an active match."""
