"""Privacy: keyed hashes of identifiers, retention purges and right-to-be-forgotten erasure."""
