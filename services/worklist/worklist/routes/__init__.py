"""The page's routes, one module per resource."""
