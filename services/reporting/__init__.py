"""Reporting: programme figures for HR, built from events alone."""
