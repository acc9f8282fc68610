"""The store's repositories, one per aggregate; `core.store.Store` holds one of each."""
