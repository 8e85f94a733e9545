"""Feedback: participants rate their sessions; relationships going wrong are flagged early."""
