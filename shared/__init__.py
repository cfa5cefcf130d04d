"""Mechanisms every Mitra service uses: config, database, errors, auth, outbox, regions."""
