"""Enrollment: the employee directory (fed by the HRIS), programmes and participants."""
