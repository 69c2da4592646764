"""Training-side tools for lite-decluster: synthetic ETAS catalogs and model export."""
