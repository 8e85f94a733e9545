"""Binôme's common library: contracts and infrastructure every service uses, no business rules."""
