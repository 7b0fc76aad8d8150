"""What every page shares: the app database, the model store, bundled data and the database policy."""
