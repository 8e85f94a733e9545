"""Matching: proposes mentor/mentee pairs, tracks their lifecycle and re-matches when one fails."""
