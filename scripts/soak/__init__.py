"""The chaos soak (`make soak`): orders, cancels and restocks through injected AWS errors,
process kills, a consumer outage and an API crash, then a recount of every invariant."""
