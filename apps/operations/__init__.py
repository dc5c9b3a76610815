"""Operations across the stores: backup and restore, table maintenance, partitioning of trades."""
