"""Operations tooling for the Dagster instance (queue and pool limits); no Dagster ops live here."""
