"""Mitra's services, one package each."""
