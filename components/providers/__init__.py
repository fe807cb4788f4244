"""The clouds' builders, one package per cloud; `registry.CLOUDS` is the one list of them.

Only the components import builders. What a cloud *is* (identity kind, gaps, store URIs, DNS
limits) is catalog data: `components.catalog.clouds`.
"""
