"""The Pulumi side of exitplan: a provider-neutral service spec, catalogs, one module per cloud
and the components that turn a spec into equivalent GPU inference clusters."""
